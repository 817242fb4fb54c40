import Logging
import ServiceLifecycle

/// Delivery of one queue: starts on the backlog (before any listener accepts), follows the writer's
/// commits of that queue (`commits`: events or trace exports) until shutdown, then drains up to
/// `delivery.drainTimeoutSeconds` counted from the signal.
struct DeliveryService: DaemonService {
    let driver: DeliveryDriver
    let commits: AsyncStream<QueueWriter.Commit>
    /// Shut down when this delivery stops; nil when another delivery, stopped later, owns it.
    let uploader: Uploader?
    let budget: ShutdownBudget
    let logger: Logger

    func run(up: @escaping @Sendable () -> Void) async throws {
        // Enqueued before anything can commit: commits made from now on wait in `commits` for the loop below.
        driver.start()
        up()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await commit in commits { driver.committed(commit) }
            }
            // Cancelled rather than asked to stop: no drain, what is queued waits for the next start.
            let graceful = (try? await gracefulShutdown()) != nil
            let deadline = budget.drainDeadline(seconds: driver.drainTimeoutSeconds)
            let drained = graceful ? await driver.drain(until: deadline) : false
            driver.stop()
            group.cancelAll()
            await uploader?.shutdown()
            logStopped(drained: drained)
        }
        driver.close()
    }

    private func logStopped(drained: Bool) {
        let left = driver.snapshot().queuedEvents
        let kind = driver.queueKind
        logger.info(
            drained
                ? "\(kind.deliveryName) stopped; queue empty"
                : "\(kind.deliveryName) stopped; \(kind.itemsName) wait in the queue for the next start",
            metadata: ["\(kind.countKey)": "\(left)"]
        )
    }
}
