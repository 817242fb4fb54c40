import Foundation
import ModaAgentTestSupport
import NIOConcurrencyHelpers
import Testing

/// Monitoring must never wait for the queue: `/metrics` reads published values, so a scraper gets
/// its answer at once while a large backlog drains, and scraping costs ingest nothing
/// (docs/architecture.md, "Monitoring without waiting").
@Suite("monitoring during a backlog drain")
struct ScrapeDuringDrainTests {
    static let backlog = 300_000

    /// One timed sample: when it started (seconds since the measurement began) and how long it took.
    struct Sample {
        var at: Double
        var seconds: Double
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return .infinity }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded(.up)))]
    }

    /// Scraping runs in alternate half seconds: acks taken while it runs are compared with acks
    /// taken while it does not, in the same drain (the same queue, disk and machine load).
    static func scraping(at seconds: Double) -> Bool {
        Int(seconds * 2) % 2 == 0
    }

    /// What one drain measured.
    struct Round {
        var acks: [Sample] = []
        var scrapes: [Sample] = []
        var failures: [String] = []
        var drained = false
        var seconds: Double = 0
    }

    @Test("/metrics 20 times a second while 300k events drain: p99 within 10 ms, ingest acks no slower")
    func scrapeDuringDrain() async throws {
        let port = MonitoringTests.freePort()
        let mock = try await MockModaServer.start(recording: .countOnly)
        defer { try? mock.shutdownBlocking() }
        let overrides: [String: Any] = ["endpoint": mock.endpoint, "monitoring": ["listen": "127.0.0.1:\(port)"]]
        try await AgentProcess.with(overrides: overrides) { agent in
            // A drain takes a few seconds: several give enough scrapes for a p99.
            var rounds: [Round] = []
            for round in 0..<4 {
                _ = await agent.stop()
                try QueueFiller.fill(path: agent.queuePath, count: Self.backlog) {
                    EventLines.typical(round * Self.backlog + $0)
                }
                try await agent.start()
                rounds.append(await Self.measureDrain(agent: agent, mock: mock, port: port, round: round))
            }
            let failures = rounds.flatMap(\.failures)
            #expect(failures.isEmpty, "\(failures)")
            #expect(rounds.allSatisfy { $0.drained }, "a backlog did not drain: \(mock.deliveredCount) delivered")
            let scrapeTimes = rounds.flatMap(\.scrapes).map(\.seconds)
            let all = rounds.flatMap(\.acks)
            let withScrapes = all.filter { Self.scraping(at: $0.at) }.map(\.seconds)
            let without = all.filter { !Self.scraping(at: $0.at) }.map(\.seconds)
            let scrapeP99 = Self.percentile(scrapeTimes, 0.99)
            let ackP99 = (with: Self.percentile(withScrapes, 0.99), without: Self.percentile(without, 0.99))
            let ms = { (seconds: Double) in String(format: "%.2f ms", seconds * 1000) }
            print(
                "\(rounds.count) drains of \(Self.backlog) in "
                    + rounds.map { String(format: "%.1f s", $0.seconds) }.joined(separator: ", ")
                    + "; \(scrapeTimes.count) scrapes p50 \(ms(Self.percentile(scrapeTimes, 0.5))) "
                    + "p90 \(ms(Self.percentile(scrapeTimes, 0.9))) "
                    + "p99 \(ms(scrapeP99)) max \(ms(scrapeTimes.max() ?? 0)); ack p99 \(ms(ackP99.with)) while "
                    + "scraping (\(withScrapes.count) acks), \(ms(ackP99.without)) without (\(without.count) acks)"
            )
            #expect(scrapeTimes.count >= 80, "too few scrapes during the drains: \(scrapeTimes.count)")
            #expect(
                withScrapes.count >= 200 && without.count >= 200,
                "too few acks: \(withScrapes.count), \(without.count)"
            )
            #expect(scrapeP99 <= 0.010, "scrape p99 \(ms(scrapeP99))")
            // The same within noise: a shared 2-core machine varies by a few milliseconds between half seconds.
            #expect(
                ackP99.with <= max(ackP99.without * 1.5, ackP99.without + 0.005),
                "ack p99 \(ms(ackP99.with)) while scraping, \(ms(ackP99.without)) without"
            )
        }
    }

    /// Acks and, in alternate half seconds, scrapes, from the daemon's start until the backlog is delivered.
    static func measureDrain(agent: AgentProcess, mock: MockModaServer, port: Int, round: Int) async -> Round {
        let target = mock.deliveredCount + backlog
        let stop = NIOLockedValueBox(false)
        let result = NIOLockedValueBox(Round())
        let started = Monotonic.now()
        let elapsed: @Sendable () -> Double = { Monotonic.seconds(from: started, to: Monotonic.now()) }
        let group = DispatchGroup()

        group.enter()
        Thread {
            defer { group.leave() }
            // One client sending a line and waiting for its reply: the ack latency a user sees.
            guard let client = try? agent.client() else {
                result.withLockedValue { $0.failures.append("cannot connect to the socket") }
                return
            }
            var seq = 10_000_000 * (round + 1)
            while !stop.withLockedValue({ $0 }) {
                let at = elapsed()
                guard (try? client.send(EventLines.typical(seq) + "\n")) != nil,
                    client.readLines(1, timeout: .seconds(5)).first?.hasPrefix(#"{"ok":true"#) == true
                else {
                    result.withLockedValue { $0.failures.append("line \(seq) was not acknowledged") }
                    return
                }
                result.withLockedValue { $0.acks.append(Sample(at: at, seconds: elapsed() - at)) }
                seq += 1
            }
        }.start()

        group.enter()
        Thread {
            defer { group.leave() }
            var scraper: MetricsScraper?
            var next = elapsed()
            while !stop.withLockedValue({ $0 }) {
                next += 0.05
                let at = elapsed()
                if scraper == nil {
                    // The listener comes up beside the socket; until it does, there is nothing to time.
                    scraper = try? MetricsScraper(port: port)
                }
                if scraping(at: at), scraper != nil {
                    do {
                        let body = try scraper?.get("/metrics") ?? ""
                        let seconds = elapsed() - at
                        guard body.contains("moda_agent_queue_events") else {
                            result.withLockedValue { $0.failures.append("a scrape without the queue gauge") }
                            return
                        }
                        result.withLockedValue { $0.scrapes.append(Sample(at: at, seconds: seconds)) }
                    } catch {
                        result.withLockedValue { $0.failures.append("scrape: \(error)") }
                        return
                    }
                }
                Monotonic.sleep(seconds: max(0, next - elapsed()))
            }
        }.start()

        let drained = await mock.waitForDeliveredCount(target, timeout: .seconds(30))
        let seconds = elapsed()
        stop.withLockedValue { $0 = true }
        await withCheckedContinuation { continuation in
            group.notify(queue: .global()) { continuation.resume() }
        }
        return result.withLockedValue {
            $0.drained = drained
            $0.seconds = seconds
            return $0
        }
    }
}

/// A keep-alive HTTP/1.1 client on one loopback TCP connection, as Prometheus scrapes.
final class MetricsScraper {
    private let socket: BlockingSocket
    private var pending: [UInt8] = []

    init(port: Int) throws {
        socket = try BlockingSocket.loopbackTCP(port: port)
        socket.setReceiveTimeout(seconds: 5)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The body of a 200 answer to `GET path`.
    func get(_ path: String) throws -> String {
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        try socket.send(request, prefix: request.count)
        let separator = Array("\r\n\r\n".utf8)
        var found = pending.indices.dropLast(3).first { Array(pending[$0..<($0 + 4)]) == separator }
        while found == nil {
            try receive()
            found = pending.indices.dropLast(3).first { Array(pending[$0..<($0 + 4)]) == separator }
        }
        guard let headEnd = found else { throw Failure(description: "no end of head") }
        let head = String(decoding: pending[..<headEnd], as: UTF8.self)
        guard head.hasPrefix("HTTP/1.1 200") else { throw Failure(description: "answer: \(head)") }
        let lengthLine = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
        guard let lengthLine, let length = Int(lengthLine.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))
        else { throw Failure(description: "no Content-Length in \(head)") }
        let bodyStart = headEnd + 4
        while pending.count < bodyStart + length { try receive() }
        let body = String(decoding: pending[bodyStart..<(bodyStart + length)], as: UTF8.self)
        pending.removeFirst(bodyStart + length)
        return body
    }

    private func receive() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { socket.receive(into: $0) }
        guard count > 0 else { throw Failure(description: "the connection closed") }
        pending += chunk[..<count]
    }
}
