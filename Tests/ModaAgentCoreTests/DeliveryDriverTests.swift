import Dispatch
import Foundation
import Logging
import ModaAgentTestSupport
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import ModaAgentCore

/// The real `DeliveryDriver` on a real queue (SQLite in a temp dir, the real writer), with a manual
/// clock and a scripted uploader: its timer, its reads and writes, and its trace-export rules, with
/// time moving only when a test moves it.
@Suite("delivery driver")
struct DeliveryDriverTests {
    @Test("a partial batch leaves when the injected clock reaches the flush interval, not before")
    func flushIntervalOnTheInjectedClock() async throws {
        let rig = try await Rig(events: 3, maxEvents: 10, flushIntervalMs: 1_000)
        defer { rig.close() }
        rig.driver.start()
        await rig.settle()
        #expect(rig.uploader.requests.isEmpty, "3 of 10 events wait for the flush interval")
        rig.clock.advance(by: .milliseconds(999))
        await rig.settle()
        #expect(rig.uploader.requests.isEmpty)
        rig.clock.advance(by: .milliseconds(1))
        try await rig.waitUntil("the batch is delivered and removed") { rig.queued == 0 }
        #expect(rig.uploader.requests.count == 1)
        #expect(rig.uploader.requests.first?.endpoint == "http://127.0.0.1:9/v1/ingest")
        #expect(rig.uploader.requests.first.map { $0.body.count > 20 } == true)
    }

    @Test("a failed send is retried when the injected clock reaches the backoff, and only then")
    func retryOnTheInjectedClock() async throws {
        let rig = try await Rig(events: 10, maxEvents: 10, answers: [503, 200])
        defer { rig.close() }
        rig.driver.start()
        try await rig.waitUntil("the first send failed") { rig.driver.status.state == .retrying }
        #expect(rig.uploader.requests.count == 1)
        // retryInitialSeconds is 10: half of it at the least, with jitter.
        rig.clock.advance(by: .seconds(4))
        await rig.settle()
        #expect(rig.uploader.requests.count == 1)
        rig.clock.advance(by: .seconds(20))
        try await rig.waitUntil("the retry delivered the batch") { rig.queued == 0 }
        #expect(rig.uploader.requests.count == 2)
        #expect(rig.driver.status.state == .ok)
    }

    @Test("a drain against a dead upstream ends at its deadline on the injected clock, with the events kept")
    func drainEndsAtItsDeadline() async throws {
        let rig = try await Rig(events: 10, maxEvents: 10, answers: Array(repeating: 503, count: 100))
        defer { rig.close() }
        rig.driver.start()
        try await rig.waitUntil("the first send failed") { rig.driver.status.state == .retrying }
        let deadline = rig.clock.now().instant + .seconds(30)
        async let drained = rig.driver.drain(until: deadline)
        await rig.settle()
        rig.clock.advance(by: .seconds(31))
        #expect(await drained == false)
        #expect(rig.queued == 10)
    }

    @Test("each request body is written into an answered one's buffer, not into fresh memory")
    func answeredBodiesAreWrittenIntoAgain() async throws {
        let rig = try await Rig(events: 40, maxEvents: 10, maxInFlight: 1)
        defer { rig.close() }
        rig.driver.start()
        try await rig.waitUntil("every batch is delivered") { rig.queued == 0 }
        let requests = rig.uploader.requests
        #expect(requests.count == 4)
        // One batch at a time: each is built once the one before is answered and its buffer given back.
        #expect(Set(requests.map(\.storage)).count == 1, "buffers: \(requests.map(\.storage))")
        #expect(requests.map { String(decoding: $0.body, as: UTF8.self).hasSuffix("]}") } == [true, true, true, true])
    }

    @Test("a commit's events are sent from the bodies it announced; after a retry, from the rows")
    func committedBodiesFromMemory() async throws {
        let rig = try await Rig(events: 0, maxEvents: 10, flushIntervalMs: 1_000, answers: [503, 200])
        defer { rig.close() }
        rig.driver.start()
        await rig.settle()
        let lines = (0..<5).map { [PreparedEvent(body: Array(#"{"conversation_id":"c","n":\#($0)}"#.utf8))] }
        _ = await QueueWriterFixtures.submit(rig.writer, lines)
        var commits = rig.writer.commits.makeAsyncIterator()
        rig.driver.committed(try #require(await commits.next()))
        await rig.settle()
        // The rows changed behind delivery's back: only a request read from them can show it.
        let db = try QueueDatabase.open(path: rig.folder.file("q/queue.db"), durability: .full, create: false)
        try db.execute(#"UPDATE events SET body = replace(body, '"n"', '"m"')"#)
        db.close()
        rig.clock.advance(by: .milliseconds(1_000))
        try await rig.waitUntil("the first send failed") { rig.driver.status.state == .retrying }
        rig.clock.advance(by: .seconds(25))
        try await rig.waitUntil("the retry delivered the batch") { rig.queued == 0 }
        let bodies = rig.uploader.requests.map { String(decoding: $0.body, as: UTF8.self) }
        #expect(bodies.count == 2)
        #expect(
            bodies.first == #"{"events":["#
                + (0..<5).map { #"{"conversation_id":"c","n":\#($0)}"# }.joined(separator: ",") + "]}"
        )
        #expect(bodies.last == bodies.first?.replacingOccurrences(of: #""n""#, with: #""m""#))
    }

    @Test("trace exports: protobuf ones merge into one request, a JSON one travels alone")
    func traceExportsTravelByTheirRule() async throws {
        let rig = try await Rig(events: 0, maxEvents: 10, flushIntervalMs: 0, traces: true)
        defer { rig.close() }
        let protobuf = TraceExport(contentType: "application/x-protobuf", body: [0x0A, 0x00])
        let json = TraceExport(contentType: "application/json", body: Array(#"{"resourceSpans":[]}"#.utf8))
        for export in [protobuf, protobuf, json, protobuf] { await rig.submit(export) }
        rig.driver.start()
        try await rig.waitUntil("every export is delivered") { rig.queued == 0 }
        let requests = rig.uploader.requests
        let protobufType = "application/x-protobuf"
        #expect(requests.map(\.contentType) == [protobufType, "application/json", protobufType])
        #expect(requests.map(\.body.count) == [4, json.body.count, 2])
        #expect(requests.allSatisfy { $0.endpoint == "http://127.0.0.1:9/v1/traces" })
    }
}

/// A queue, its writer and one driver over it.
private final class Rig: Sendable {
    let folder = TemporaryDirectory()
    let clock = ManualDeliveryClock()
    let uploader: ScriptedUploader
    let writer: QueueWriter
    let driver: DeliveryDriver
    let counts: @Sendable () -> Int

    init(
        events: Int,
        maxEvents: Int,
        flushIntervalMs: Double = 0,
        answers: [Int] = [],
        traces: Bool = false,
        maxInFlight: Int = 8
    ) async throws {
        var config = AgentConfig()
        config.endpoint = "http://127.0.0.1:9/v1/ingest"
        config.queue.path = folder.file("q/queue.db")
        config.batch.maxEvents = maxEvents
        config.batch.flushIntervalMs = flushIntervalMs
        config.delivery.retryInitialSeconds = 10
        config.delivery.retryMaxSeconds = 20
        config.delivery.maxInFlight = maxInFlight
        let db = try QueueDatabase.open(path: config.queue.path, durability: .full, create: true)
        writer = try QueueWriter(db: db, config: config.queue)
        uploader = ScriptedUploader(answers: answers)
        let reader = try QueueStore(path: config.queue.path, durability: .full, create: true)
        let source: any DeliverySource =
            traces ? TraceSource(reader: reader, logger: Logger(label: "test")) : EventSource(reader: reader)
        driver = try DeliveryDriver(
            source: source,
            writer: writer,
            uploader: uploader,
            settings: DeliverySettings(config: config, apiKey: "key"),
            logger: Logger(label: "test"),
            clock: clock
        )
        let driver = self.driver
        counts = { driver.snapshot().queuedEvents }
        let lines = (0..<events).map { [PreparedEvent(body: Array(#"{"n":\#($0)}"#.utf8))] }
        if !lines.isEmpty {
            let writer = self.writer
            await withCheckedContinuation { continuation in
                writer.submit(lines: lines, receivedAt: 1_000) { _ in continuation.resume() }
            }
        }
    }

    var queued: Int { counts() }

    func submit(_ export: TraceExport) async {
        let writer = self.writer
        await withCheckedContinuation { continuation in
            writer.submit(trace: export, receivedAt: 1_000) { _ in continuation.resume() }
        }
    }

    /// Lets the driver finish what it has started (its queue, the writer, an answer in flight), before
    /// a test checks that something did not happen: the writer idle and then the driver's queue run
    /// through with no request out and no write waiting, twice in a row (a write handed over in the
    /// first round comes back in the second). No time passes on the manual clock meanwhile.
    func settle() async {
        var quietRounds = 0
        for _ in 0..<100_000 where quietRounds < 2 {
            await writer.idle()
            if await driver.isQuiet() {
                quietRounds += 1
            } else {
                quietRounds = 0
                await Task.yield()
            }
        }
        if quietRounds < 2 { Issue.record("the driver never went quiet: \(driver.status)") }
    }

    /// Waits for `condition`, at most 60 s of real time (a loaded CI machine runs every suite at once).
    func waitUntil(_ what: String, _ condition: () -> Bool) async throws {
        guard await !waitFor(timeout: .seconds(60), every: .milliseconds(5), condition) else { return }
        let seen = "\(uploader.requests.count) requests, \(queued) queued, \(driver.status)"
        Issue.record("timed out waiting until \(what): \(seen)")
    }

    func close() {
        driver.stop()
        driver.close()
        writer.finish()
        folder.remove()
    }
}

/// Moves only when told; a wake that comes due runs on the driver's queue, as the system clock's would.
final class ManualDeliveryClock: DeliveryClock, Sendable {
    // @unchecked: DispatchWorkItem is not marked Sendable; the items are only held under the lock and
    // handed to their queue, as the system clock's asyncAfter does.
    private struct State: @unchecked Sendable {
        var instant = ContinuousClock.Instant.now
        var wall = 1_800_000_000.0
        var wakes: [(at: ContinuousClock.Instant, queue: DispatchQueue, work: DispatchWorkItem)] = []
    }
    private let state = NIOLockedValueBox(State())

    func now() -> DeliveryStateMachine.Now {
        state.withLockedValue { .init(instant: $0.instant, wall: $0.wall) }
    }

    func wake(at instant: ContinuousClock.Instant, on queue: DispatchQueue, _ work: DispatchWorkItem) {
        state.withLockedValue { $0.wakes.append((instant, queue, work)) }
    }

    func advance(by duration: Duration) {
        let due = state.withLockedValue { state in
            state.instant += duration
            state.wall += Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
            let now = state.instant
            let due = state.wakes.filter { $0.at <= now }
            state.wakes.removeAll { $0.at <= now }
            return due
        }
        for wake in due where !wake.work.isCancelled { wake.queue.async(execute: wake.work) }
    }
}

/// Answers each POST with the next status of its script (200 once it runs out; on the events endpoint
/// with the body that confirms delivery) and records the request.
final class ScriptedUploader: BatchUploader, Sendable {
    struct Request: Sendable {
        var body: [UInt8]
        var contentType: String
        var endpoint: String
        /// Where the body's bytes live: the same address again is the same buffer written into again.
        var storage: UInt
    }
    private let state: NIOLockedValueBox<(answers: [Int], requests: [Request])>

    init(answers: [Int]) {
        state = NIOLockedValueBox((answers, []))
    }

    var requests: [Request] { state.withLockedValue { $0.requests } }

    func post(
        body: ByteBuffer,
        contentType: String,
        endpoint: String,
        apiKey: String,
        timeoutSeconds: Double
    ) async -> UploadResult {
        let status = state.withLockedValue { state in
            let storage = body.withVeryUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
            state.requests.append(
                Request(
                    body: Array(body.readableBytesView),
                    contentType: contentType,
                    endpoint: endpoint,
                    storage: storage
                )
            )
            return state.answers.isEmpty ? 200 : state.answers.removeFirst()
        }
        let confirms = status == 200 && endpoint.hasSuffix("/v1/ingest")
        return .response(UploadResponse(status: status, body: confirms ? Array(#"{"success":true}"#.utf8) : []))
    }
}
