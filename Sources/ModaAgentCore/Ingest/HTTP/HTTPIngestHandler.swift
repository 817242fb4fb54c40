import NIOCore
import NIOHTTP1
import NIOHTTPCompression

/// One HTTP connection to the receivers: collects a request's body up to `http.maxBodyBytes`
/// (after gzip decoding), checks the token, validates it as the socket validates a line, hands it
/// to the group-commit writer, and answers only once it is durable (SPEC 10). `/v1/ingest` answers in
/// Moda's shapes, the OTLP routes in OTLP's (`OTLPResponse`).
///
/// A body held takes its share of `memory.maxBufferedBytes` as it grows (`MemoryBudget.reserve`),
/// and reading the connection waits while the budget has no room: back-pressure on that client
/// alone. The share is returned once the request is answered.
final class HTTPIngestHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = Never
    typealias OutboundOut = HTTPServerResponsePart

    /// Reserved at least this much at a time, so a body costs a few reservations, not one per chunk.
    static let reservationStep = 256 * 1024

    /// What a request is, decided from its head.
    private enum Route: Equatable {
        case ingest
        case traces(OTLPEncoding)
        /// `/v1/metrics` or `/v1/logs`: answered, counted and dropped.
        case discard(signal: String, OTLPEncoding)

        var otlpEncoding: OTLPEncoding? {
            switch self {
            case .ingest: nil
            case .traces(let encoding), .discard(_, let encoding): encoding
            }
        }
    }

    private enum State {
        case idle
        case collecting(HTTPRequestHead, Route, ByteBuffer)
        /// A request already answered (too large, unauthorized): the rest of it is read and dropped.
        case discarding
        case committing
    }

    private let settings: AgentConfig.HTTP
    private let validator: EventValidator
    private let writer: QueueWriter
    private let metrics: IngestMetrics
    private let discards: OTLPDiscards
    private let budget: MemoryBudget?
    /// What this connection's body holds of the budget now.
    private var reserved = 0
    /// A reservation is being waited for: reads wait with it.
    private var reserving = false
    private var readPending = false
    private var state = State.idle
    /// The route of the request being answered, for the shape of a refusal.
    private var route = Route.ingest

    init(
        settings: AgentConfig.HTTP,
        validator: EventValidator,
        writer: QueueWriter,
        metrics: IngestMetrics,
        discards: OTLPDiscards,
        budget: MemoryBudget? = nil
    ) {
        self.budget = budget
        self.settings = settings
        self.validator = validator
        self.writer = writer
        self.metrics = metrics
        self.discards = discards
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            begin(head, context: context)
        case .body(var chunk):
            guard case .collecting(let head, let route, var body) = state else { return }
            if body.readableBytes + chunk.readableBytes > settings.maxBodyBytes {
                tooLarge(context: context)
                return
            }
            // Out of the enum first, so the buffer is not shared and grows in place.
            state = .idle
            body.writeBuffer(&chunk)
            state = .collecting(head, route, body)
            reserveMore(context: context)
        case .end:
            switch state {
            case .collecting(let head, let route, let body):
                state = .committing
                switch route {
                case .ingest: finish(head, body: body, context: context)
                case .traces(let encoding): finishTraces(head, encoding: encoding, body: body, context: context)
                case .discard(let signal, let encoding):
                    state = .idle
                    releaseBudget()
                    discards.discarded(signal: signal)
                    respond(OTLPResponse.success(encoding), keepAlive: head.isKeepAlive, context: context)
                }
            case .discarding:
                state = .idle
            case .idle, .committing:
                break
            }
        }
    }

    func read(context: ChannelHandlerContext) {
        if reserving {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        releaseBudget()
        context.fireChannelInactive()
    }

    /// Takes more of the budget when the body being read holds more than its share, holding reads
    /// until it is granted; a body that could never fit is refused.
    private func reserveMore(context: ChannelHandlerContext) {
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
        Task {
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

    private func reserved(
        _ result: Result<MemoryBudget.Reservation, MemoryBudget.ReserveError>,
        context: ChannelHandlerContext
    ) {
        reserving = false
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
        case .failure:
            // Larger than the whole budget: not asked for (`reserveMore` refuses such a body first).
            break
        }
        reserveMore(context: context)
        if !reserving, readPending {
            readPending = false
            context.read()
        }
    }

    private func releaseBudget() {
        guard reserved > 0, let budget else { return }
        budget.release(MemoryBudget.Reservation(bytes: reserved))
        reserved = 0
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A gzip body that does not decode, or decodes past the limit, is the client's fault: answer it.
        let decompression = error as? NIOHTTPDecompression.DecompressionError
        guard case .collecting = state, decompression != nil || error is NIOHTTPDecompression.ExtraDecompressionError
        else {
            context.close(promise: nil)
            return
        }
        if decompression == .limit {
            refuse(
                .payloadTooLarge,
                "the body is over http.maxBodyBytes (\(settings.maxBodyBytes) bytes) once decompressed",
                reason: .tooLarge,
                keepAlive: false,
                context: context
            )
        } else {
            refuse(
                .badRequest,
                "the body is not valid gzip (Content-Encoding: gzip): \(error)",
                reason: .invalid,
                keepAlive: false,
                context: context
            )
        }
    }

    private func begin(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let otlpSignal: String?
        switch path {
        case "/v1/ingest": otlpSignal = nil
        case "/v1/traces": otlpSignal = "traces"
        case "/v1/metrics": otlpSignal = "metrics"
        case "/v1/logs": otlpSignal = "logs"
        default:
            route = .ingest
            refuse(
                .notFound,
                "no such path \(path); events go to POST /v1/ingest, OTLP traces to POST /v1/traces",
                keepAlive: head.isKeepAlive,
                context: context
            )
            return
        }
        let contentType = head.headers.first(name: "Content-Type") ?? ""
        // A refusal before the content type is known is in JSON, readable by people and clients alike.
        route = otlpSignal == nil ? .ingest : .discard(signal: "", OTLPEncoding(contentType: contentType) ?? .json)
        guard head.method == .POST else {
            refuse(
                .methodNotAllowed,
                "use POST for \(path)",
                keepAlive: head.isKeepAlive,
                context: context,
                allow: "POST"
            )
            return
        }
        if let token = settings.token, head.headers.first(name: "Authorization") != "Bearer \(token)" {
            refuse(
                .unauthorized,
                "missing or wrong token: send Authorization: Bearer <http.token>",
                reason: .unauthorized,
                keepAlive: head.isKeepAlive,
                context: context
            )
            return
        }
        if let signal = otlpSignal {
            guard let encoding = OTLPEncoding(contentType: contentType) else {
                refuse(
                    .unsupportedMediaType,
                    "unsupported Content-Type \"\(contentType)\" on \(path): "
                        + "send application/x-protobuf or application/json",
                    reason: .invalid,
                    keepAlive: head.isKeepAlive,
                    context: context
                )
                return
            }
            route = signal == "traces" ? .traces(encoding) : .discard(signal: signal, encoding)
        }
        if let length = head.headers.first(name: "Content-Length").flatMap(Int.init), length > settings.maxBodyBytes {
            tooLarge(context: context)
            return
        }
        state = .collecting(head, route, context.channel.allocator.buffer(capacity: 0))
    }

    private func tooLarge(context: ChannelHandlerContext) {
        // Not kept alive: the rest of the body is not worth reading.
        let what = route == .ingest ? "events" : "spans"
        refuse(
            .payloadTooLarge,
            "the body is over http.maxBodyBytes (\(settings.maxBodyBytes) bytes); send fewer \(what) per request",
            reason: .tooLarge,
            keepAlive: false,
            context: context
        )
    }

    /// Answers a request in its route's error shape; the rest of its body, if any, is read and dropped.
    private func refuse(
        _ status: HTTPResponseStatus,
        _ message: String,
        reason: IngestMetrics.RejectReason? = nil,
        keepAlive: Bool,
        context: ChannelHandlerContext,
        allow: String? = nil
    ) {
        state = .discarding
        releaseBudget()
        if let reason { metrics.rejected(reason) }
        if let encoding = route.otlpEncoding {
            respond(
                OTLPResponse.refused(status, message, encoding: encoding),
                keepAlive: keepAlive,
                context: context,
                allow: allow
            )
        } else {
            respond(
                IngestAPIResponse.refused(status, message, requestId: IngestAPIResponse.newRequestId()),
                keepAlive: keepAlive,
                context: context,
                allow: allow
            )
        }
    }

    /// Checks the export is what its `Content-Type` says, stores it as received, and answers once
    /// it is durable.
    private func finishTraces(
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
            body: Array(buffer: body)
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

    private func committedTrace(
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

    private func finish(_ head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        let receivedAt = Timestamp.now()
        let prepared = body.withUnsafeReadableBytes {
            validator.prepare(line: $0, receivedAt: Timestamp.iso8601(receivedAt), envelopeOnly: true)
        }
        let events: [PreparedEvent]
        switch prepared {
        case .failure(let rejection):
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
        case .success(let prepared):
            events = prepared
        }
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        writer.submit(lines: [events], receivedAt: receivedAt) { outcomes in
            loop.execute {
                let (handler, context) = bound.value
                handler.committed(outcomes.first, head: head, context: context)
            }
        }
    }

    private func committed(_ outcome: QueueWriter.Outcome?, head: HTTPRequestHead, context: ChannelHandlerContext) {
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

    private func respond(
        _ response: some HTTPAnswer,
        keepAlive: Bool,
        context: ChannelHandlerContext,
        allow: String? = nil,
        retryAfter: Bool = false
    ) {
        if let refusal = response as? IngestAPIResponse, let message = refusal.message {
            writer.tap.rejected(source: "http", error: "\(refusal.status.code): \(message)")
        }
        write(
            response.status,
            contentType: response.contentType,
            body: response.bodyBytes,
            keepAlive: keepAlive,
            context: context,
            allow: allow,
            retryAfter: retryAfter
        )
    }

    private func write(
        _ status: HTTPResponseStatus,
        contentType: String,
        body: [UInt8],
        keepAlive: Bool,
        context: ChannelHandlerContext,
        allow: String?,
        retryAfter: Bool
    ) {
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.count))
        if let allow { headers.add(name: "Allow", value: allow) }
        if retryAfter { headers.add(name: "Retry-After", value: "1") }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let buffer = context.channel.allocator.buffer(bytes: body)
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
            promise: nil
        )
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            done.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
        }
    }
}
