import Foundation
import ModaAgentCore
import NIOConcurrencyHelpers

/// The delivery log's size (`trace.maxBytes` as the daemon counts it), read from the queue's database
/// every 200 ms on a thread of its own while a run goes on: the largest seen and the last.
final class DeliveryLogSampler: Sendable {
    private struct State {
        var largest = 0
        var last = 0
        var samples = 0
        var stopped = false
    }

    private let state = NIOLockedValueBox(State())
    private let done = DispatchSemaphore(value: 0)

    init(queuePath: String) {
        let thread = Thread { [state, done] in
            defer { done.signal() }
            var tracer: EventTracer?
            while !state.withLockedValue({ $0.stopped }) {
                if tracer == nil { tracer = try? EventTracer(queuePath: queuePath) }
                if let bytes = try? tracer?.logBytes() {
                    state.withLockedValue {
                        $0.largest = max($0.largest, bytes)
                        $0.last = bytes
                        $0.samples += 1
                    }
                }
                Thread.sleep(forTimeInterval: 0.2)
            }
            tracer?.close()
        }
        thread.name = "delivery-log-sampler"
        thread.start()
    }

    /// Stops sampling; the largest size seen, the last one, and how many samples were taken.
    func stop() -> (largest: Int, last: Int, samples: Int) {
        state.withLockedValue { $0.stopped = true }
        done.wait()
        return state.withLockedValue { ($0.largest, $0.last, $0.samples) }
    }
}
