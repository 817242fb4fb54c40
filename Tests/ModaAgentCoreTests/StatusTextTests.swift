import Testing

@testable import ModaAgentCore

/// `modactl status` as text, from a report built by hand (no daemon, no database).
@Suite("status text")
struct StatusTextTests {
    static func report(memory: MemoryBudget.Snapshot, running: Bool = true) -> StatusReport {
        StatusReport(
            daemon: .init(running: running, pid: running ? 4242 : nil, version: "0.1.0", uptimeSeconds: 12),
            traces: .init(
                counters: .init(queuedExports: 0, queuedBytes: 0, deliveredExports: 0),
                oldestAgeSeconds: nil,
                deadLetters: 0,
                delivery: DeliveryStatus(),
                shown: false
            ),
            queue: .init(queuedEvents: 3, queuedBytes: 900, droppedEvents: 0, deliveredEvents: 10),
            oldestAgeSeconds: 1,
            deadLetters: 0,
            delivery: DeliveryStatus(),
            memory: memory,
            queuePath: "/var/lib/moda-agent/queue.db",
            maxInFlight: 8
        )
    }

    @Test(
        "the memory line shows what --json's memory has: buffered bytes of the limit, read pauses",
        arguments: [
            (MemoryBudget.Snapshot(bufferedBytes: 0, maxBufferedBytes: 64 << 20, readPauses: 0),
             "      Memory: 0 B of 64.0 MiB buffered; 0 read pauses (memory.maxBufferedBytes)"),
            (MemoryBudget.Snapshot(bufferedBytes: 3 << 19, maxBufferedBytes: 64 << 20, readPauses: 1),
             "      Memory: 1.5 MiB of 64.0 MiB buffered; 1 read pause (memory.maxBufferedBytes)"),
            (MemoryBudget.Snapshot(bufferedBytes: 40 << 20, maxBufferedBytes: 64 << 20, readPauses: 984),
             "      Memory: 40.0 MiB of 64.0 MiB buffered; 984 read pauses (memory.maxBufferedBytes)"),
        ]
    )
    func memoryLine(snapshot: MemoryBudget.Snapshot, expected: String) {
        let lines = Self.report(memory: snapshot).text(color: false, now: 100).split(separator: "\n").map(String.init)
        #expect(lines.contains(expected), "\(lines)")
    }

    @Test("past half the budget the memory line is yellow")
    func memoryLineColor() {
        let busy = Self.report(memory: .init(bufferedBytes: 40 << 20, maxBufferedBytes: 64 << 20, readPauses: 2))
        #expect(busy.text(color: true, now: 100).contains("Memory: \u{1B}[33m40.0 MiB of 64.0 MiB"))
        let quiet = Self.report(memory: .init(bufferedBytes: 1 << 20, maxBufferedBytes: 64 << 20, readPauses: 0))
        #expect(quiet.text(color: true, now: 100).contains("Memory: 1.0 MiB of 64.0 MiB"))
    }
}
