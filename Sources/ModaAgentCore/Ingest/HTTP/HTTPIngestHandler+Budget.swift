import NIOCore

/// The request body's share of `memory.maxBufferedBytes`: taken as the body grows, reads held
/// while a reservation waits, returned once the request is answered.
extension HTTPIngestHandler {
    /// Takes more of the budget when the body being read holds more than its share, holding reads
    /// until it is granted; a body that could never fit is refused.
    func reserveMore(context: ChannelHandlerContext) {
        guard let budget, !reserving, case .collecting(_, _, let body) = state, body.readableBytes > reserved else {
            return
        }
        let limit = budget.snapshot().maxBufferedBytes
        guard body.readableBytes <= limit else {
            refuse(
                .payloadTooLarge,
                "the body is over memory.maxBufferedBytes (\(limit) bytes), what the agent holds for clients",
                reason: .tooLarge,
                keepAlive: false,
                context: context
            )
            return
        }
        let bytes = min(max(body.readableBytes - reserved, Self.reservationStep), limit - reserved)
        reserving = true
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        reservation = Task {
            let result: Result<MemoryBudget.Reservation, MemoryBudget.ReserveError>
            do throws(MemoryBudget.ReserveError) {
                result = .success(try await budget.reserve(bytes))
            } catch {
                result = .failure(error)
            }
            loop.execute {
                let (handler, context) = bound.value
                handler.reserved(result, context: context)
            }
        }
    }

    func reserved(
        _ result: Result<MemoryBudget.Reservation, MemoryBudget.ReserveError>,
        context: ChannelHandlerContext
    ) {
        reserving = false
        reservation = nil
        switch result {
        case .success(let reservation):
            switch state {
            case .collecting, .committing:
                reserved += reservation.bytes
            case .idle, .discarding:
                // Answered meanwhile: nothing is held any more.
                budget?.release(reservation)
            }
            guard context.channel.isActive else {
                releaseBudget()
                return
            }
        case .failure(.cancelled):
            return
        case .failure(.largerThanBudget):
            // Not asked for: `reserveMore` refuses such a body first.
            break
        }
        reserveMore(context: context)
        if !reserving, readPending {
            readPending = false
            context.read()
        }
    }

    func releaseBudget() {
        guard reserved > 0, let budget else { return }
        budget.release(MemoryBudget.Reservation(bytes: reserved))
        reserved = 0
    }
}
