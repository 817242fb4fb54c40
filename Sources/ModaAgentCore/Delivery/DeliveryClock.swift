import Dispatch
import NIOCore

/// The driver's clock: what time it is, and the one wake the machine asks for. The system clock in
/// the daemon; a test's manual clock moves only when the test says (DeliveryDriverTests).
protocol DeliveryClock: Sendable {
    func now() -> DeliveryStateMachine.Now
    /// Runs `work` on `queue` once `instant` (monotonic) has come; `work.cancel()` withdraws it.
    func wake(at instant: ContinuousClock.Instant, on queue: DispatchQueue, _ work: DispatchWorkItem)
}

struct SystemDeliveryClock: DeliveryClock {
    func now() -> DeliveryStateMachine.Now {
        .init(instant: .now, wall: Timestamp.now())
    }

    func wake(at instant: ContinuousClock.Instant, on queue: DispatchQueue, _ work: DispatchWorkItem) {
        // DispatchTime is monotonic too; only the distance is carried over.
        let delay = max(.zero, instant - .now)
        let nanoseconds = delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000
        queue.asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds)), execute: work)
    }
}

/// What the driver posts batches with: the `Uploader`, or a test's stand-in.
protocol BatchUploader: Sendable {
    func post(
        body: ByteBuffer,
        contentType: String,
        endpoint: String,
        apiKey: String,
        timeoutSeconds: Double
    ) async -> UploadResult
}

extension Uploader: BatchUploader {}
