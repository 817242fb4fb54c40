import NIOCore
import NIOHTTP1

/// A complete request body: validated, handed to the group-commit writer, answered once durable.
extension HTTPIngestHandler {
    /// Checks the export is what its `Content-Type` says, stores it as received, and answers once
    /// it is durable.
    func finishTraces(
        _ head: HTTPRequestHead,
        encoding: OTLPEncoding,
        body: ByteBuffer,
        context: ChannelHandlerContext
    ) {
        let receivedAt = Timestamp.now()
        if let fault = body.withUnsafeReadableBytes({ OTLPBodyCheck.check($0, encoding: encoding) }) {
            metrics.burstAnswered(lines: 1, events: 0)
            refuse(.badRequest, fault, reason: .invalid, keepAlive: head.isKeepAlive, context: context)
            state = .idle
            return
        }
        let export = TraceExport(
            contentType: head.headers.first(name: "Content-Type") ?? encoding.mediaType,
            body: validator.redactor?.redact(traceExport: Array(buffer: body), encoding: encoding) ?? Array(buffer: body)
        )
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        writer.submit(trace: export, receivedAt: receivedAt) { outcome in
            loop.execute {
                let (handler, context) = bound.value
                handler.committedTrace(outcome, encoding: encoding, head: head, context: context)
            }
        }
    }

    func committedTrace(
        _ outcome: QueueWriter.Outcome,
        encoding: OTLPEncoding,
        head: HTTPRequestHead,
        context: ChannelHandlerContext
    ) {
        state = .idle
        releaseBudget()
        metrics.burstAnswered(lines: 1, events: 0)
        switch outcome {
        case .accepted:
            respond(OTLPResponse.success(encoding), keepAlive: head.isKeepAlive, context: context)
        case .queueFull(let message):
            metrics.rejected(.queueFull)
            respond(
                OTLPResponse.refused(.serviceUnavailable, message, encoding: encoding),
                keepAlive: head.isKeepAlive,
                context: context,
                retryAfter: true
            )
        case .failed(let message):
            metrics.rejected(.writeFailed)
            respond(
                OTLPResponse.refused(.serviceUnavailable, message, encoding: encoding),
                keepAlive: head.isKeepAlive,
                context: context,
                retryAfter: true
            )
        }
    }

    func finish(_ head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        let receivedAt = Timestamp.now()
        var lines = PreparedLines()
        let refused = body.withUnsafeReadableBytes {
            validator.prepare(line: $0, receivedAt: Timestamp.iso8601(receivedAt), envelopeOnly: true, into: &lines)
        }
        if let rejection = refused {
            metrics.burstAnswered(lines: 1, events: 0)
            refuse(
                rejection.isTooLarge ? .payloadTooLarge : .badRequest,
                rejection.message,
                reason: rejection.isTooLarge ? .tooLarge : .invalid,
                keepAlive: head.isKeepAlive,
                context: context
            )
            state = .idle
            return
        }
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        writer.submit(lines: lines, receivedAt: receivedAt) { outcomes in
            loop.execute {
                let (handler, context) = bound.value
                handler.committed(outcomes.first, head: head, context: context)
            }
        }
    }

    func committed(_ outcome: QueueWriter.Outcome?, head: HTTPRequestHead, context: ChannelHandlerContext) {
        state = .idle
        releaseBudget()
        let requestId = IngestAPIResponse.newRequestId()
        let response: IngestAPIResponse
        switch outcome {
        case .accepted(let accepted, let firstID):
            metrics.burstAnswered(lines: 1, events: accepted)
            respond(
                IngestAPIResponse.accepted(accepted, firstID: firstID, requestId: requestId),
                keepAlive: head.isKeepAlive,
                context: context
            )
            return
        case .queueFull(let message):
            metrics.rejected(.queueFull)
            response = .refused(.serviceUnavailable, message, retryable: true, requestId: requestId)
        case .failed(let message):
            metrics.rejected(.writeFailed)
            response = .refused(.serviceUnavailable, message, retryable: true, requestId: requestId)
        case nil:
            response = .refused(
                .internalServerError,
                "internal error: no outcome",
                retryable: true,
                requestId: requestId
            )
        }
        metrics.burstAnswered(lines: 1, events: 0)
        respond(response, keepAlive: head.isKeepAlive, context: context, retryAfter: true)
    }
}
