import Foundation
import ModaAgentCore
import ModaAgentTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `memory.maxBufferedBytes` end to end: clients that hold the daemon's memory hostage with lines
/// they never finish are held back by the budget, and a well-behaved client is still served.
@Suite("memory bound")
struct MemoryBoundTests {
    /// An envelope of 100 events of about 10 KB each: one line of about 1 MB, valid once finished,
    /// every event under the default `batch.maxEventBytes`.
    static func megabyteLine() -> [UInt8] {
        let filler = String(repeating: "x", count: 9_900)
        let events = (0..<100).map { event in
            "{\"conversation_id\":\"hostile\",\"role\":\"user\",\"message\":\"\(filler)\",\"seq\":\(event)}"
        }
        return Array(("{\"events\":[" + events.joined(separator: ",") + "]}\n").utf8)
    }

    /// Writes `payloads[i][offsets[i]..<ends[i]]` to each client without blocking, until all is
    /// written or nothing has moved for `quiet` (the daemon stopped reading: back-pressure). True if
    /// everything was written.
    static func pump(
        _ clients: [UnixSocketClient],
        _ payloads: [[UInt8]],
        offsets: inout [Int],
        ends: [Int],
        quiet: Duration,
        deadline: ContinuousClock.Instant
    ) -> Bool {
        var lastProgress = ContinuousClock.now
        while ContinuousClock.now < deadline {
            var waiting: [pollfd] = []
            var progressed = false
            for index in clients.indices where offsets[index] < ends[index] {
                let written = payloads[index].withUnsafeBytes { raw in
                    send(
                        clients[index].fd,
                        raw.baseAddress! + offsets[index],
                        ends[index] - offsets[index],
                        Int32(MSG_DONTWAIT | MSG_NOSIGNAL)
                    )
                }
                if written > 0 {
                    offsets[index] += written
                    progressed = true
                }
                if offsets[index] < ends[index] {
                    waiting.append(pollfd(fd: clients[index].fd, events: Int16(POLLOUT), revents: 0))
                }
            }
            if waiting.isEmpty { return true }
            if progressed {
                lastProgress = ContinuousClock.now
            } else if ContinuousClock.now - lastProgress > quiet {
                return false
            } else {
                // Until some socket has room again (or a short while, to notice quiet).
                _ = poll(&waiting, nfds_t(waiting.count), 50)
            }
        }
        return false
    }

    static func raiseOpenFileLimit(to wanted: Int) -> Bool {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if Int(limit.rlim_cur) < wanted {
            limit.rlim_cur = min(limit.rlim_max, rlim_t(wanted))
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return Int(limit.rlim_cur) >= wanted
    }

    @Test(
        "1,000 connections each holding 1 MB of an unfinished line: another client is served within 5 s, RSS stays under idle + budget + 20 MB, and every line is queued once finished"
    )
    func hostileUnfinishedLines() async throws {
        let hostiles = 1_000
        try #require(Self.raiseOpenFileLimit(to: hostiles + 200), "the test needs \(hostiles + 200) descriptors")
        // 16 MiB rather than the default 64: the same meaning (1,000 clients offer 1 GB, 60 times the
        // budget), with the 20 MB allowance a larger share of it. MODA_TEST_BUDGET_MIB=64 runs the default.
        let budget = (Int(ProcessInfo.processInfo.environment["MODA_TEST_BUDGET_MIB"] ?? "") ?? 16) << 20
        let overrides: [String: Any] = [
            "memory": ["maxBufferedBytes": budget],
            "queue": ["maxBytes": 4 << 30],
            // Delivery fails against the closed port and retries; small batches keep what it reads
            // (the other half of the issue, not measured here) out of the ingest figure.
            "batch": ["maxBytes": 65_536, "maxEventBytes": 20_000],
        ]
        try await AgentProcess.with(overrides: overrides) { agent in
            #expect(
                await waitForAsync {
                    let daemon = (try? await agent.status())?["daemon"] as? [String: Any]
                    return (daemon?["uptimeSeconds"] as? Double ?? 0) >= 1
                }
            )
            // The baseline is a warmed daemon: a few megabyte lines first, so the code ingest, validation and
            // commit run and the writer's page cache (QueueWriter.cacheKiB) are resident before it is taken.
            // Taken cold, they were counted as memory held for clients and left 1.6 MB of the 20 MB allowance
            // at the 64 MiB budget; they are a fixed cost of any daemon that ever received a line.
            let warmLines = 5
            let warmText = String(decoding: Self.megabyteLine(), as: UTF8.self)
            let warmReplies = try UnixSocketClient.exchange(
                path: agent.socketPath,
                String(repeating: warmText, count: warmLines),
                timeout: .seconds(30)
            )
            #expect(warmReplies.count == warmLines, "\(warmReplies.prefix(2))")
            // The heartbeat gives a finished burst's heap back (malloc_trim) on the first 1 s beat without
            // activity: nothing to wait on from here but that time.
            try await Task.sleep(for: .seconds(3))
            let idle = try #require(ProcessMemory.rss(pid: agent.pid))

            // Phase 1: every hostile client sends its line but the final "\n", as fast as the daemon reads.
            var clients: [UnixSocketClient] = []
            for _ in 0..<hostiles { clients.append(try agent.client()) }
            // One line for all (the arrays share its storage): the test process stays small.
            let payloads = Array(repeating: Self.megabyteLine(), count: hostiles)
            var offsets = Array(repeating: 0, count: hostiles)
            let unfinished = payloads.map { $0.count - 1 }
            let started = ContinuousClock.now
            let allSent = Self.pump(
                clients,
                payloads,
                offsets: &offsets,
                ends: unfinished,
                quiet: .seconds(2),
                deadline: started + .seconds(120)
            )
            let sent = offsets.reduce(0, +)
            let held = try #require(ProcessMemory.rss(pid: agent.pid))
            print(
                "memory bound: \(hostiles) hostile clients wrote \(sent >> 20) MiB (all: \(allSent)) in "
                    + "\(ContinuousClock.now - started); RSS idle \(idle.current) KiB, now \(held.current) KiB"
            )

            // Phase 2: a well-behaved client is served, all its lines acknowledged within 5 s.
            let served = ContinuousClock.now
            let replies = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...50), timeout: .seconds(5))
            let took = ContinuousClock.now - served
            #expect(replies.count == 50 && replies.allSatisfy { $0 == #"{"ok":true,"accepted":1}"# }, "\(replies.prefix(3))")
            #expect(took < .seconds(5), "the well-behaved client took \(took)")

            // status shows the budget at work (the heartbeat records it within a second or so).
            var memory: [String: Any] = [:]
            let shown = await waitForAsync(timeout: .seconds(10)) {
                memory = ((try? await agent.status())?["memory"] as? [String: Any]) ?? [:]
                return (memory["readPauses"] as? Int ?? 0) > 0 && (memory["bufferedBytes"] as? Int ?? 0) > 0
            }
            #expect(shown, "status memory: \(memory)")
            #expect(memory["maxBufferedBytes"] as? Int == budget)
            // The budget's own figure: grants past half the budget reserve what their read may add, and
            // the finishers' lines are counted ahead, so it overruns only by what the design allows, the one
            // line (socket.maxLineBytes, 1 MiB) finished when nothing else can free memory. Before both,
            // 21.7 MB of 16 MiB was seen; after, 17.9–18.0 MB at 16 MiB and at most the budget at 64.
            #expect((memory["bufferedBytes"] as? Int ?? .max) <= budget + (2 << 20), "\(memory)")
            let ceiling = idle.current + budget / 1024 + 20 * 1024
            let holding = try #require(ProcessMemory.rss(pid: agent.pid))
            #expect(
                holding.peak < ceiling,
                "peak RSS \(holding.peak) KiB while held over idle + budget + 20 MB (\(ceiling) KiB)"
            )

            // Phase 3: the hostile clients finish their lines; every one is queued.
            // Samples for the log: what the budget holds beside the process's RSS, as the lines finish.
            let sampler = Task {
                var samples: [String] = []
                while !Task.isCancelled {
                    let shown = ((try? await agent.status())?["memory"] as? [String: Any]) ?? [:]
                    let rss = ProcessMemory.rss(pid: agent.pid)?.current ?? 0
                    samples.append("\((shown["bufferedBytes"] as? Int ?? 0) >> 10)/\(rss)")
                    try? await Task.sleep(for: .milliseconds(300))
                }
                return samples
            }
            let finished = Self.pump(
                clients,
                payloads,
                offsets: &offsets,
                ends: payloads.map(\.count),
                quiet: .seconds(60),
                deadline: ContinuousClock.now + .seconds(300)
            )
            #expect(finished, "the daemon stopped reading for good: \(offsets.filter { $0 < payloads[0].count }.count) unfinished")
            for client in clients { client.finishWriting() }
            let expected = Int64(warmLines * 100 + hostiles * 100 + 50)
            // The counters alone: a QueueSnapshot would read the whole gigabyte.
            let queuedEvents = { () -> Int64 in
                guard let store = try? QueueStore(operatorPath: agent.queuePath, access: .readOnly) else { return -1 }
                defer { store.close() }
                return Int64((try? store.counters().queuedEvents) ?? -1)
            }
            let queued = await waitFor(timeout: .seconds(300), every: .milliseconds(200)) { queuedEvents() == expected }
            let count = queuedEvents()
            #expect(queued, "queued \(count) of \(expected)")

            sampler.cancel()
            print("memory bound: budget KiB/RSS KiB while finishing:", await sampler.value.joined(separator: " "))
            let peak = try #require(ProcessMemory.rss(pid: agent.pid))
            print(
                "memory bound: RSS idle \(idle.current) KiB, peak while held \(holding.peak) KiB, peak overall "
                    + "\(peak.peak) KiB (ceiling \(ceiling) KiB); well-behaved client served in \(took); status \(memory)"
            )
            // While a gigabyte of finished lines is validated and committed: what RSS holds beyond the
            // budget is the connections' own state, allocator slack and code paged in since idle.
            #expect(peak.peak < ceiling, "peak RSS \(peak.peak) KiB over idle + budget + 20 MB (\(ceiling) KiB)")
            clients.removeAll()
            #expect(agent.isRunning)
        }
    }
}
