import NIOConcurrencyHelpers
import ServiceLifecycle

/// A long-lived part of the daemon that must be up before the next one starts: it binds and starts in
/// its own `run(up:)`, calls `up()` once it is (say, once its socket listens), then runs until graceful
/// shutdown and stops what it started.
protocol DaemonService: Sendable {
    func run(up: @escaping @Sendable () -> Void) async throws
}

/// The daemon's services in start order, for one `ServiceGroup`: each starts only once the one before
/// it is up, and the group stops them in reverse (queue first up and last down, delivery next, the
/// listeners after it and so first down). Adding a service is one `append` at its place in the order.
struct ServiceOrder {
    private var entries: [(name: String, body: Body, endsGroup: Bool)] = []

    enum Body: Sendable {
        /// Up once it binds or starts, as it says through `up()`.
        case part(any DaemonService)
        /// Up as soon as it runs (a timer, a signal loop: nothing to bind).
        case plain(any Service)
    }

    mutating func append(_ name: String, _ service: any DaemonService) {
        entries.append((name, .part(service), false))
    }

    mutating func append(_ name: String, _ service: any Service, endsGroup: Bool = false) {
        entries.append((name, .plain(service), endsGroup))
    }

    /// The group's services; `allUp` runs once the last of them is up.
    func configurations(allUp: @escaping @Sendable () -> Void) -> [ServiceGroupConfiguration.ServiceConfiguration] {
        var previous: StartLatch?
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        for (index, entry) in entries.enumerated() {
            let latch = StartLatch()
            let last = index == entries.count - 1
            let service = OrderedService(body: entry.body, after: previous, latch: latch, allUp: last ? allUp : nil)
            services.append(
                .init(
                    service: service,
                    successTerminationBehavior: entry.endsGroup ? .gracefullyShutdownGroup : .cancelGroup,
                    serviceName: entry.name
                )
            )
            previous = latch
        }
        return services
    }
}

/// One service of the order: waits for the one before it to be up, then runs.
private struct OrderedService: Service {
    let body: ServiceOrder.Body
    let after: StartLatch?
    let latch: StartLatch
    let allUp: (@Sendable () -> Void)?

    func run() async throws {
        try await after?.wait()
        let latch = self.latch
        let allUp = self.allUp
        let up: @Sendable () -> Void = {
            if latch.open() { allUp?() }
        }
        switch body {
        case .part(let service):
            try await service.run(up: up)
        case .plain(let service):
            up()
            try await service.run()
        }
    }
}

/// Opened once, when a service is up; its successor waits on it (one waiter). A cancelled wait throws,
/// so a failure that cancels the group never leaves a successor waiting.
private final class StartLatch: Sendable {
    private let stream: AsyncStream<Never>
    private let continuation: AsyncStream<Never>.Continuation
    private let opened = NIOLockedValueBox(false)

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Never.self)
    }

    /// True the first time.
    func open() -> Bool {
        let first = opened.withLockedValue { opened in
            defer { opened = true }
            return !opened
        }
        continuation.finish()
        return first
    }

    func wait() async throws {
        for await _ in stream {}
        try Task.checkCancellation()
    }
}
