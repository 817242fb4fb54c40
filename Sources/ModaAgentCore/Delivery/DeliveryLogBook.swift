/// The driver's notes for the delivery log (docs/tracing.md): a batch's ids by conversation from
/// the moment it is read to send, then the answer that finished it (status, `requestId`,
/// latency), until the driver hands its removal or dead letter to the writer. Answers that
/// finish nothing (retries, splits, pauses) are forgotten at once, so it holds at most the
/// batches in flight and those awaiting their write.
struct DeliveryLogBook {
    private struct Answer {
        var status: Int
        var requestId: String?
        var latency: Double
        var message: String?
    }

    private var sent: [DeliveryStateMachine.BatchID: [DeliveryRecord.Group]] = [:]
    private var answered: [DeliveryStateMachine.BatchID: (groups: [DeliveryRecord.Group], answer: Answer)] = [:]

    mutating func sent(_ batch: DeliveryStateMachine.BatchID, groups: [DeliveryRecord.Group]) {
        sent[batch] = groups
    }

    mutating func answered(
        _ batch: DeliveryStateMachine.BatchID,
        result: UploadResult,
        decision: DeliveryDecision,
        latency: Duration
    ) {
        guard let groups = sent.removeValue(forKey: batch) else { return }
        let seconds = Double(latency.components.seconds) + Double(latency.components.attoseconds) / 1e18
        let status: Int
        if case .response(let response) = result { status = response.status } else { status = 0 }
        switch decision {
        case .delivered(let requestId):
            answered[batch] = (groups, Answer(status: status, requestId: requestId, latency: seconds))
        case .deadLetter(let fault):
            answered[batch] = (
                groups,
                Answer(
                    status: fault.status ?? status,
                    requestId: fault.requestId,
                    latency: seconds,
                    message: fault.message
                )
            )
        case .retry, .split, .pause:
            break
        }
    }

    /// The entry for a batch whose removal is being written, taken out of the book.
    mutating func record(for batch: DeliveryStateMachine.BatchID, at time: Double) -> DeliveryRecord? {
        guard let (groups, answer) = answered.removeValue(forKey: batch) else { return nil }
        return DeliveryRecord(
            at: time,
            status: answer.status,
            requestId: answer.requestId,
            latency: answer.latency,
            message: answer.message,
            groups: groups
        )
    }
}
