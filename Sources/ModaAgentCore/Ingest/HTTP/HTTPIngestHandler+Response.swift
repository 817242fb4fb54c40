import NIOCore
import NIOHTTP1

/// Writing an answer: head, body, end, and closing after it unless the client keeps the connection alive.
extension HTTPIngestHandler {
    func respond(
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

    func write(
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
