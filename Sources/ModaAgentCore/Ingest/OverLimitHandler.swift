import NIOCore

/// Installed instead of the ingest handler on a connection over `socket.maxConnections`: tells
/// the client why, retryably, then closes. Written on `channelActive`, as the channel cannot take
/// writes while it is still being set up.
final class OverLimitHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let maxConnections: Int

    init(maxConnections: Int) {
        self.maxConnections = maxConnections
    }

    func channelActive(context: ChannelHandlerContext) {
        let reply = IngestReply.refused(
            message: "too many connections (socket.maxConnections \(maxConnections)); retry later"
        )
        var buffer = context.channel.allocator.buffer(capacity: 128)
        buffer.writeString(reply.json)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in bound.value.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
