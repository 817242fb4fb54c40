import Synchronization

/// Results handed back from worker threads: each thread adds its own once, and the caller reads
/// them after joining, so the lock is taken a handful of times per run, never per event.
final class Collector<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])

    func add(_ value: Value) {
        values.withLock { $0.append(value) }
    }

    var all: [Value] {
        values.withLock { $0 }
    }
}
