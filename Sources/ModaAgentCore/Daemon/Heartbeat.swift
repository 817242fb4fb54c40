import CMalloc
import Dispatch
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's word to systemd: READY=1 once running, STATUS= kept current from published values,
/// watchdog pings while running, STOPPING=1 first thing on shutdown. A ping proves liveness by a
/// round trip: each beat sends a no-op through the writer's queue and delivery's, and the next beat
/// pings the watchdog only if both came back, so a pipeline stuck for a beat stops the pings and
/// systemd restarts the daemon; nothing here waits for them (nor for deletions to catch up). Each
/// beat also records the memory budget's numbers in the queue for `modactl status`, when they changed.
final class Heartbeat: Service, @unchecked Sendable {
    // @unchecked: `timer` is set once in start() before the source runs and cancelled in stop();
    // `lastStatus`, `lastActivity`, `trimmedAt`, `recordedMemory` and `outstandingProbes` are touched
    // only on `queue`, where every beat and every probe's answer runs.
    private let delivery: DeliveryDriver
    /// Trace exports' delivery, when it runs: STATUS= shows its queue and state too.
    private let traceDelivery: DeliveryDriver?
    private let writer: QueueWriter
    private let notifier: SystemdNotifier
    private let queue = DispatchQueue(label: "moda-agent.heartbeat")
    private var timer: (any DispatchSourceTimer)?
    private var lastStatus = ""
    private let activity: @Sendable () -> Int
    private var lastActivity = 0
    private var trimmedAt = 0
    private let budget: MemoryBudget
    private var recordedMemory: MemoryBudget.Snapshot
    /// Round trips sent and not yet back (the writer's and delivery's).
    private var outstandingProbes = 0

    /// `activity` counts accepted events; a burst that has ended gives its heap back to the system.
    init(
        delivery: DeliveryDriver,
        writer: QueueWriter,
        notifier: SystemdNotifier,
        budget: MemoryBudget,
        traceDelivery: DeliveryDriver? = nil,
        activity: @escaping @Sendable () -> Int
    ) {
        self.traceDelivery = traceDelivery
        self.budget = budget
        // Nothing buffered yet is what status shows without a record: an idle daemon writes nothing.
        self.recordedMemory = budget.snapshot()
        self.activity = activity
        self.delivery = delivery
        self.writer = writer
        self.notifier = notifier
    }

    func run() async throws {
        notifier.ready()
        start()
        try? await gracefulShutdown()
        notifier.stopping()
        stop()
    }

    private func start() {
        let interval = min(
            1.0,
            SystemdNotifier.watchdogInterval().map {
                Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18
            } ?? 1.0
        )
        let source = DispatchSource.makeTimerSource(queue: queue)
        source.schedule(deadline: .now(), repeating: max(0.05, interval))
        source.setEventHandler { [weak self] in self?.beat() }
        timer = source
        source.resume()
    }

    private func stop() {
        timer?.cancel()
    }

    private func beat() {
        if outstandingProbes == 0 {
            notifier.watchdog()
            probe()
        }
        let snapshot = delivery.snapshot()
        let line = SystemdNotifier.statusLine(
            queuedEvents: snapshot.queuedEvents,
            deliveryState: snapshot.state.rawValue,
            traces: traceDelivery.map { $0.snapshot() }.map { ($0.queuedEvents, $0.state.rawValue) }
        )
        if line != lastStatus {
            notifier.status(line)
            lastStatus = line
        }
        let memory = budget.snapshot()
        if memory != recordedMemory {
            writer.perform(.memory(memory, pid: getpid())) { _ in }
            recordedMemory = memory
        }
        let current = activity()
        if current == lastActivity, current != trimmedAt {
            // glibc keeps freed heap after a burst of ingest; idle is when giving it back is free.
            malloc_trim(0)
            trimmedAt = current
        }
        lastActivity = current
    }

    /// One round trip through each queue whose stall would stop the daemon's work.
    private func probe() {
        outstandingProbes = 2
        let answered: @Sendable () -> Void = { [queue] in
            queue.async { self.outstandingProbes -= 1 }
        }
        writer.ping(answered)
        delivery.ping(answered)
    }
}
