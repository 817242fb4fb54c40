import Foundation
import ModaAgentTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// docs/protocol.md at the edges of a connection's life: a client that closes at once, and one
/// that reads its replies late.
@Suite("reply stream")
struct ReplyStreamTests {
    /// About 650 bytes, like the lines that showed the fault.
    static func wideLine(_ index: Int) -> String {
        "{\"conversation_id\":\"conv-\(index % 7)\",\"role\":\"user\",\"message\":\"message \(index)\",\"note\":\""
            + String(repeating: "n", count: 560) + "\",\"seq\":\(index)}"
    }

    @Test("a burst written at once and closed without reading: every line queued, the last one without \\n too")
    func burstThenCloseKeepsTheLastLine() async throws {
        try await AgentProcess.with { agent in
            let connections = 4
            let perConnection = 3_000
            for connection in 0..<connections {
                let client = try agent.client()
                let first = connection * perConnection + 1
                let last = first + perConnection - 1
                // The final line has no "\n"; the socket is closed with replies unread in it.
                let payload = (first...last).map(Self.wideLine).joined(separator: "\n")
                try client.send(payload)
            }
            let total = connections * perConnection
            let queued = await waitFor(timeout: .seconds(60)) {
                (try? QueueSnapshot(path: agent.queuePath).counters["queued_events"]) == Int64(total)
            }
            let snapshot = try QueueSnapshot(path: agent.queuePath)
            #expect(queued, "queued \(snapshot.counters["queued_events"] ?? -1) of \(total)")
            let seqs = Set(snapshot.parsedEvents.compactMap { $0["seq"] as? Int })
            let missing = Set(1...total).subtracting(seqs).sorted()
            #expect(missing.isEmpty, "\(missing.count) lines missing, e.g. \(missing.prefix(10))")
            #expect(agent.isRunning)
        }
    }

    @Test("a client that reads late gets a prefix of its replies, never one with a gap; every line is queued")
    func lateReaderSeesAPrefix() async throws {
        try await AgentProcess.with { agent in
            let client = try agent.client()
            // Every 1000th line is invalid, so a misaligned reply stream cannot hide.
            let isBad: (Int) -> Bool = { $0 % 1000 == 500 }
            let line: (Int) -> String = { index in
                isBad(index)
                    ? "{\"conversation_id\":\"c\",\"role\":\"robot\",\"message\":\"m\",\"seq\":\(index)}"
                    : EventLines.standard(index)
            }
            // Phase 1: far more replies than the socket buffers hold, none read.
            let firstPhase = 60_000
            try client.send((1...firstPhase).map(line).joined(separator: "\n") + "\n")
            let valid = { (upTo: Int) in (1...upTo).filter { !isBad($0) }.count }
            let queuedFirst = await waitFor(timeout: .seconds(60)) {
                (try? QueueSnapshot(path: agent.queuePath).counters["queued_events"]) == Int64(valid(firstPhase))
            }
            #expect(queuedFirst)
            // Phase 2: read what is there; phase 3: more lines (one invalid), then read to the end.
            var received = client.readLines(Int.max, timeout: .seconds(3))
            let total = firstPhase + 1_000
            try client.send(((firstPhase + 1)...total).map(line).joined(separator: "\n") + "\n")
            client.finishWriting()
            received += client.readAll(timeout: .seconds(30))

            #expect(received.count < total, "the test meant to leave too many replies unread; all came")
            #expect(received.count >= 1_000, "replies stopped too early: \(received.count)")
            var misaligned: [String] = []
            for (index, reply) in received.enumerated() {
                let number = index + 1
                let expected =
                    isBad(number)
                    ? reply.hasPrefix(#"{"ok":false"#) && reply.contains("\"line \(number): ")
                    : reply == #"{"ok":true,"accepted":1}"#
                if !expected { misaligned.append("reply \(number): \(reply)") }
            }
            #expect(misaligned.isEmpty, "replies out of step with lines: \(misaligned.prefix(3))")
            let queued = await waitFor(timeout: .seconds(30)) {
                (try? QueueSnapshot(path: agent.queuePath).counters["queued_events"]) == Int64(valid(total))
            }
            #expect(queued, "every valid line is queued, replied to or not")
            #expect(agent.isRunning)
        }
    }
}
