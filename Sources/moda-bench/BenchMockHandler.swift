import NIOCore
import NIOHTTP1

/// One connection of the benchmark's mock Moda API: counts the events of each request body as
/// its chunks arrive (nothing is kept), then answers 200 `{"success":true,…}` as the API does,
/// or, while the outage switch is on, the API's 503.
final class BenchMockHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private static let unavailableBody =
        "{\"success\":false,\"message\":\"Service temporarily unavailable\",\"retryable\":true}"

    private let stats: MockStats
    private var counter = EventArrayCounter()
    private var keepAlive = true

    init(stats: MockStats) {
        self.stats = stats
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            counter = EventArrayCounter()
            keepAlive = head.isKeepAlive
        case .body(let chunk):
            chunk.withUnsafeReadableBytes { counter.consume($0) }
        case .end:
            answer(context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A broken client ends only its own connection.
        context.close(promise: nil)
    }

    private func answer(context: ChannelHandlerContext) {
        let status: HTTPResponseStatus
        let body: String
        if stats.unavailable.load(ordering: .relaxed) {
            stats.refused()
            status = .serviceUnavailable
            body = Self.unavailableBody
        } else {
            let number = stats.delivered(counter.count)
            status = .ok
            body = "{\"success\":true,\"count\":\(counter.count),\"requestId\":\"bench-\(number)\"}"
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
            promise: nil
        )
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
