import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's tail socket (docs/tracing.md): `tail.sock` beside the queue, mode 0600, so only the
/// daemon's user and root reach it; what it shows is the queue's (stored, redacted) text, which the
/// same users can read anyway. A client writes one request line and reads JSON lines:
/// `{"follow":true,"conversation":"c1","kinds":["accepted"]}` streams records until it closes;
/// without `follow`, the recent records, then the connection closes; `{"inFlight":true}` answers
/// the requests in flight (for `modactl trace`).
public final class TailServer: Sendable {
    private let channel: any Channel
    public let path: String

    private init(channel: any Channel, path: String) {
        self.channel = channel
        self.path = path
    }

    public static func path(queuePath: String) -> String {
        QueueFiles.folder(of: queuePath) + "/tail.sock"
    }

    public static func start(queuePath: String, tap: FlowTap, group: any EventLoopGroup) async throws -> TailServer {
        let path = Self.path(queuePath: queuePath)
        // The daemon holds the queue's lock, so a socket file here is a crash's leftover.
        unlink(path)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TailConnectionHandler(tap: tap))
                }
            }
        let channel = try await bootstrap.bind(unixDomainSocketPath: path).get()
        // The daemon's umask (0077) already made it so; said again in case it runs with another.
        if chmod(path, 0o600) != 0 {
            let reason = String(cString: strerror(errno))
            try? await channel.close()
            throw IngestError.cannotSetMode(path: path, mode: "0600", reason: reason)
        }
        return TailServer(channel: channel, path: path)
    }

    public func stop() async {
        try? await channel.close()
        unlink(path)
    }
}

/// One tail connection: reads the request line, then answers or follows.
final class TailConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: `request` and `subscriber` are touched only on the channel's event loop.
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let tap: FlowTap
    private var request: [UInt8] = []
    private var subscriber: TailSubscriber?
    private static let maxRequestBytes = 4096

    init(tap: FlowTap) {
        self.tap = tap
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard subscriber == nil else { return }
        let buffer = unwrapInboundIn(data)
        request += buffer.readableBytesView
        guard let newline = request.firstIndex(of: UInt8(ascii: "\n")) else {
            if request.count > Self.maxRequestBytes { context.close(promise: nil) }
            return
        }
        answer(TailRequest(Array(request[..<newline])), context: context)
    }

    private func answer(_ request: TailRequest, context: ChannelHandlerContext) {
        if request.inFlight {
            let entries = tap.inFlight.snapshot.map { entry -> JSONValue in
                var json = OrderedJSON()
                json.add("since", .double(entry.since))
                json.add("attempt", JSONValue(entry.attempt))
                json.add(
                    "ids",
                    .array(IDRuns(entry.ids).map { .array([JSONValue($0.lowerBound), JSONValue($0.upperBound)]) })
                )
                return json.value
            }
            var json = OrderedJSON()
            json.add("inFlight", .array(entries))
            writeAndClose(json.line + "\n", context: context)
        } else if request.follow {
            let subscriber = TailSubscriber(
                channel: context.channel,
                conversation: request.conversation,
                kinds: request.kinds
            )
            self.subscriber = subscriber
            tap.subscribe(subscriber)
            // Said first, so the tail knows it is following before any record comes.
            subscriber.send(#"{"kind":"following"}"# + "\n", records: 0)
        } else {
            let lines = tap.recentRecords(conversation: request.conversation, kinds: request.kinds)
            writeAndClose(lines.map { $0 + "\n" }.joined(), context: context)
        }
    }

    private func writeAndClose(_ text: String, context: ChannelHandlerContext) {
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let subscriber { tap.unsubscribe(subscriber) }
        subscriber = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// What a tail client asks for; anything it cannot read means "the recent records of every kind".
struct TailRequest {
    var follow = false
    var inFlight = false
    var conversation: UInt64?
    var kinds = Set(TailRecord.Kind.allCases)

    init(_ line: [UInt8]) {
        guard let json = JSONValue.parse(line) else { return }
        if case .bool(true) = json["follow"] { follow = true }
        if case .bool(true) = json["inFlight"] { inFlight = true }
        if let id = json["conversation"]?.string { conversation = ConversationKey.of(id: id) }
        if let names = json["kinds"]?.array {
            kinds = Set(names.compactMap { $0.string.flatMap(TailRecord.Kind.init(rawValue:)) })
        }
    }
}
