import NIOCore
import NIOHTTP1
import NIOHTTPCompression

/// One HTTP connection to the receivers: collects a request's body up to `http.maxBodyBytes`
/// (after gzip decoding), checks the token, validates it as the socket validates a line, hands it
/// to the group-commit writer, and answers only once it is durable (docs/protocol.md). `/v1/ingest` answers in
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
    enum Route: Equatable {
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

    enum State {
        case idle
        case collecting(HTTPRequestHead, Route, ByteBuffer)
        /// A request already answered (too large, unauthorized): the rest of it is read and dropped.
        case discarding
        case committing
    }

    let settings: AgentConfig.HTTP
    let validator: EventValidator
    let writer: QueueWriter
    let metrics: IngestMetrics
    let discards: OTLPDiscards
    let budget: MemoryBudget?
    /// What this connection's body holds of the budget now.
    var reserved = 0
    /// A reservation is being waited for: reads wait with it. Cancelled when the client goes.
    var reserving = false
    var reservation: Task<Void, Never>?
    var readPending = false
    var state = State.idle
    /// The route of the request being answered, for the shape of a refusal.
    var route = Route.ingest

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
        reservation?.cancel()
        releaseBudget()
        context.fireChannelInactive()
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

    func begin(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
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

    func tooLarge(context: ChannelHandlerContext) {
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
    func refuse(
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
}
