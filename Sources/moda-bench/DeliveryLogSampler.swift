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
        /// Why the last reading failed, for a run that got none.
        var error: String?
    }

    private let state = NIOLockedValueBox(State())
    private let done = DispatchSemaphore(value: 0)

    init(queuePath: String) {
        let thread = Thread { [state, done] in
            defer { done.signal() }
            var tracer: EventTracer?
            while !state.withLockedValue({ $0.stopped }) {
                do throws(QueueError) {
                    let opened: EventTracer
                    if let tracer {
                        opened = tracer
                    } else {
                        opened = try EventTracer(queuePath: queuePath)
                    }
                    tracer = opened
                    let bytes = try opened.logBytes()
                    state.withLockedValue {
                        $0.largest = max($0.largest, bytes)
                        $0.last = bytes
                        $0.samples += 1
                    }
                } catch {
                    state.withLockedValue { $0.error = "\(error)" }
                }
                Thread.sleep(forTimeInterval: 0.2)
            }
            tracer?.close()
        }
        thread.name = "delivery-log-sampler"
        thread.start()
    }

    /// Stops sampling; the largest size seen, the last one, and how many samples were taken. A run
    /// without a single reading measured nothing: that fails, with the reading's error.
    func stop() throws(BenchFailure) -> (largest: Int, last: Int, samples: Int) {
        state.withLockedValue { $0.stopped = true }
        done.wait()
        let state = state.withLockedValue { $0 }
        guard state.samples > 0 else {
            throw BenchFailure("the delivery log's size could not be read once: \(state.error ?? "no reading")")
        }
        return (state.largest, state.last, state.samples)
    }
}
