import ModaAgentTestSupport

/// Resident memory: a fresh idle daemon; a daemon that has just taken 1M events while the upstream
/// is down; and that backlog after restarts, where "flat" means the queue lives on disk, not in
/// memory (target: within 5 MiB of the idle figure). The peak RSS of the 1M run comes from the
/// end-to-end scenario.
enum MemoryScenario {
    static func run(_ context: BenchContext) {
        let plan = context.plan
        // Each run a fresh daemon. RssAnon is what it allocated; RssFile the pages of the binary (and
        // libraries) that start-up and the idle loop touched.
        var idleAnonymous: [Double] = []
        var idleFile: [Double] = []
        let idle = context.samples("memory: idle") { run throws(BenchFailure) in
            let memory = try context.withAgent { agent throws(BenchFailure) in
                Monotonic.sleep(seconds: plan.idleSettleSeconds)
                return try residentMemory(agent)
            }
            context.say("  run \(run): idle \(memory.breakdown)")
            idleAnonymous.append(memory.anonymousMiB)
            idleFile.append(memory.fileMiB)
            return memory.residentMiB
        }
        context.record(ResultRow(scenario: "memory: idle RSS", unit: .mebibytes, samples: idle, target: .atMost(15)))
        context.record(ResultRow(scenario: "memory: idle RssAnon", unit: .mebibytes, samples: idleAnonymous))
        context.record(ResultRow(scenario: "memory: idle RssFile", unit: .mebibytes, samples: idleFile))

        let count = Unit.count(plan.events)
        var afterFill: [Double] = []
        var afterRestart: [Double] = []
        do throws(BenchFailure) {
            try context.withAgent(upstreamDown: true) { agent throws(BenchFailure) in
                try context.load(agent, events: plan.events, "memory: filling the queue")
                Monotonic.sleep(seconds: plan.backlogSettleSeconds)
                let filled = try residentMemory(agent)
                afterFill.append(filled.residentMiB)
                context.say("  \(count) backlogged, just filled: \(filled.breakdown)")
                for run in 1...plan.runs {
                    try agent.stop()
                    try agent.start()
                    Monotonic.sleep(seconds: plan.backlogSettleSeconds)
                    let memory = try residentMemory(agent)
                    afterRestart.append(memory.residentMiB)
                    context.say("  run \(run): \(count) backlogged, restarted: \(memory.breakdown)")
                }
            }
        } catch {
            context.fail("memory: \(count) backlogged", error)
        }
        let flat = (Summary(idle)?.median).map { Target.atMost($0 + 5) }
        let flatText = flat == nil ? nil : "≤ idle + 5"
        context.record(
            ResultRow(
                scenario: "memory: RSS, \(count) backlogged, just filled",
                unit: .mebibytes,
                samples: afterFill,
                target: flat,
                targetText: flatText
            )
        )
        context.record(
            ResultRow(
                scenario: "memory: RSS, \(count) backlogged, restarted",
                unit: .mebibytes,
                samples: afterRestart,
                target: flat,
                targetText: flatText
            )
        )
    }

    private static func residentMemory(_ agent: AgentChild) throws(BenchFailure) -> ProcessStats.Memory {
        guard agent.isRunning, let memory = agent.memory() else { throw BenchFailure("the daemon is not running") }
        return memory
    }
}
