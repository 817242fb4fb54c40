import Foundation
import ModaAgentTestSupport
import NIOPosix
import Testing

@testable import ModaAgentCore

#if canImport(Glibc)
import Glibc
#endif

/// The HTTP receivers' bodies in `memory.maxBufferedBytes`, over real TCP connections to a real
/// server in-process, so the budget itself can be watched.
@Suite("HTTP bodies and the memory budget")
struct HTTPBodyBudgetTests {
    static func body(_ size: Int) -> [UInt8] {
        let head = Array(#"{"resourceSpans":[],"pad":""#.utf8)
        return head + Array(repeating: UInt8(ascii: "x"), count: size - head.count - 2) + Array(#""}"#.utf8)
    }

    static func head(_ length: Int) -> [UInt8] {
        Array(
            "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(length)\r\n\r\n"
                .utf8
        )
    }

    @Test("a body waiting for room whose client closes gives its place back at once, and what it held")
    func closedClientLeavesTheLine() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        var queue = AgentConfig.Queue()
        queue.path = folder.file("queue.db")
        let writer = try QueueWriter(
            db: QueueDatabase.open(path: queue.path, durability: .normal, create: true),
            config: queue
        )
        let budget = MemoryBudget(limit: 1 << 20, maxLineBytes: 1 << 20)
        var settings = AgentConfig.HTTP()
        settings.listen = .tcp(ListenAddress(host: "127.0.0.1", port: 0))
        settings.maxBodyBytes = 4_000_000
        let started = try await HTTPIngestServer.start(
            settings: settings,
            socketMode: 0o600,
            maxConnections: 16,
            validator: EventValidator(maxEventBytes: 102_400, defaultEnvironment: nil),
            writer: writer,
            metrics: IngestMetrics(source: "http"),
            budget: budget,
            group: MultiThreadedEventLoopGroup.singleton
        )
        let server = try #require(started)
        defer { writer.finish() }
        guard case .tcp(let address) = server.listen else {
            Issue.record("not a TCP listener: \(server.listen)")
            return
        }
        let host = "127.0.0.1:\(address.port)"

        // A: 900 KB announced, 800 KB sent, the rest held back: the budget taken (in 256 KiB steps).
        let first = Self.body(900_000)
        let holder = try HTTPTracesTests.connect(host)
        defer { close(holder) }
        HTTPTracesTests.sendAll(holder, Self.head(first.count) + first.prefix(800_000))
        // How the 800 KB arrive decides the steps (a step is at least 256 KiB, at most what is left of the
        // 1 MiB): the partial body is counted once the budget holds all of it.
        #expect(
            await waitFor(timeout: .seconds(30)) { budget.bufferedBytes >= 800_000 },
            "the partial body is counted: \(budget.bufferedBytes)"
        )
        let heldByFirst = budget.bufferedBytes

        // B: the start of a 700 KB body, which does not fit beside A: it waits in line for room.
        // (Only the start: a closing client's FIN reaches the server only after all it sent.)
        let second = Self.body(700_000)
        let waiter = try HTTPTracesTests.connect(host)
        HTTPTracesTests.sendAll(waiter, Self.head(second.count) + second.prefix(32_768))
        #expect(await waitFor(timeout: .seconds(30)) { budget.waitingCount == 1 }, "the second body waits for room")

        // B's client goes away: its place in line is given back now, not when A is answered.
        close(waiter)
        #expect(
            await waitFor(timeout: .seconds(15)) { budget.waitingCount == 0 && budget.bufferedBytes == heldByFirst },
            "still waiting: \(budget.waitingCount), held \(budget.bufferedBytes) of A's \(heldByFirst)"
        )

        // A finishes and is answered; nothing stays held by either.
        HTTPTracesTests.sendAll(holder, Array(first.dropFirst(800_000)))
        var reply = [UInt8](repeating: 0, count: 512)
        let read = recv(holder, &reply, reply.count, 0)
        #expect(String(decoding: reply.prefix(max(0, read)), as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        #expect(await waitFor(timeout: .seconds(30)) { budget.bufferedBytes == 0 }, "held: \(budget.bufferedBytes)")
        #expect(budget.waitingCount == 0)
        await server.stop(writer: writer)
    }
}
