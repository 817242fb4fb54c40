import NIOCore
import NIOHTTP1

/// One connection of the mock server: aggregates each request's body (or, counting only, counts
/// its events as the chunks arrive and keeps nothing), asks the behaviour for a reply, and writes
/// it (now, later, or never). `HTTPServerPipelineHandler` in front of it keeps
/// pipelined requests in order while a delayed reply is pending.
final class MockHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Bodies beyond this are refused with 413 (the API's limit is 5 MB; leave room above it).
    static let maxBodyBytes = 64 << 20

    private let recorder: MockServerRecorder
    private let countOnly: Bool
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var counter = EventArrayCounter()
    private var bodyTooLarge = false
    private var pendingReply: Scheduled<Void>?
    private var isOpen = true
    /// A request received and not yet answered (the pipeline handler in front passes one at a time).
    private var awaitingAnswer = false

    init(recorder: MockServerRecorder) {
        self.recorder = recorder
        self.countOnly = recorder.recording == .countOnly
    }

    func channelActive(context: ChannelHandlerContext) {
        recorder.connectionOpened()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        isOpen = false
        pendingReply?.cancel()
        pendingReply = nil
        finishRequest()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            bodyTooLarge = false
            if countOnly {
                counter = EventArrayCounter()
                return
            }
            let expected = requestHead.headers.first(name: "content-length").flatMap(Int.init) ?? 0
            body = context.channel.allocator.buffer(capacity: min(max(expected, 0), Self.maxBodyBytes))
        case .body(var chunk):
            if countOnly {
                chunk.withUnsafeReadableBytes { counter.consume($0) }
            } else if body.readableBytes + chunk.readableBytes > Self.maxBodyBytes {
                bodyTooLarge = true
            } else if !bodyTooLarge {
                body.writeBuffer(&chunk)
            }
        case .end:
            guard let requestHead = head else { return }
            head = nil
            let bytes = Array(buffer: body)
            body = ByteBuffer()
            if bodyTooLarge {
                let refusal = MockReply.Rendered(
                    status: 413,
                    headers: [],
                    body: Array("request body over the mock server's limit".utf8),
                    confirmsDelivery: false
                )
                write(refusal, keepAlive: false, context: context)
                return
            }
            let method = requestHead.method.rawValue
            let path = requestHead.uri
            let headers = MockHeaders(requestHead.headers.map { (name: $0.name, value: $0.value) })
            let counted = countOnly ? counter.count : nil
            let (request, behavior) = recorder.receive { number in
                if let counted {
                    MockRequest(number: number, method: method, path: path, headers: headers, countedEvents: counted)
                } else {
                    MockRequest(number: number, method: method, path: path, headers: headers, body: bytes)
                }
            }
            awaitingAnswer = true
            answer(behavior.reply(request), to: request, keepAlive: requestHead.isKeepAlive, context: context)
        }
    }

    /// The request in hand is answered, dropped, or its connection gone: one fewer unanswered.
    private func finishRequest() {
        guard awaitingAnswer else { return }
        awaitingAnswer = false
        recorder.requestFinished()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A broken peer closes only its own connection.
        context.close(promise: nil)
    }

    private func answer(_ reply: MockReply, to request: MockRequest, keepAlive: Bool, context: ChannelHandlerContext) {
        guard isOpen else { return }
        switch reply {
        case .dropConnection:
            finishRequest()
            context.close(promise: nil)
        case .delay(let seconds, let next):
            let nanoseconds = Int64(min(max(seconds, 0), 86_400) * 1_000_000_000)
            pendingReply = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(nanoseconds)) {
                self.pendingReply = nil
                self.answer(next, to: request, keepAlive: keepAlive, context: context)
            }
        case .success, .status, .raw:
            guard let rendered = reply.rendered(for: request) else { return }
            // The server "commits" the batch as it answers: a batch whose connection died during
            // a delay was never answered, so it does not count as delivered.
            recorder.recordAnswer(request, confirmsDelivery: rendered.confirmsDelivery)
            finishRequest()
            write(rendered, keepAlive: keepAlive, context: context)
        }
    }

    private func write(_ reply: MockReply.Rendered, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders(reply.headers)
        if !headers.contains(name: "content-length") {
            headers.add(name: "Content-Length", value: String(reply.body.count))
        }
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        let head = HTTPResponseHead(
            version: .http1_1,
            status: HTTPResponseStatus(statusCode: reply.status),
            headers: headers
        )
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !reply.body.isEmpty {
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: reply.body)))),
                promise: nil
            )
        }
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        }
    }
}
