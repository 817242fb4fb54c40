import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import ModaAgentCore

/// The connection handler in a real pipeline, on NIO's `EmbeddedChannel`: its writer answers when
/// the test says, so every back-pressure step is seen as it happens, without a socket or a wait.
@Suite("ingest connection handler")
struct IngestConnectionHandlerTests {
    /// Stands in for the queue's writer: keeps each burst until the test commits it.
    final class HeldCommitter: IngestCommitter {
        typealias Completion = @Sendable ([QueueWriter.Outcome]) -> Void
        private let waiting = Mutex<[(lines: [[PreparedEvent]], completion: Completion)]>([])

        func submit(lines: PreparedLines, receivedAt: Double, completion: @escaping Completion) {
            let lines = lines.lines
            waiting.withLock { $0.append((lines, completion)) }
        }

        var held: Int { waiting.withLock { $0.count } }

        /// Answers the oldest burst: every line accepted, or as `outcome` says.
        func commitNext(_ outcome: QueueWriter.Outcome? = nil) {
            let next = waiting.withLock { $0.removeFirst() }
            next.completion(next.lines.map { outcome ?? .accepted($0.count, firstID: 1) })
        }
    }

    /// Counts the reads that reach the socket, i.e. that the handler let through.
    final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = ByteBuffer
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    /// A client that does not read: replies stay buffered in the channel until `release`.
    final class UnreadReplies: ChannelOutboundHandler {
        typealias OutboundIn = ByteBuffer
        var context: ChannelHandlerContext?
        func handlerAdded(context: ChannelHandlerContext) { self.context = context }
        func flush(context: ChannelHandlerContext) {}
        func release() { context?.flush() }
    }

    struct Connection {
        let channel: EmbeddedChannel
        let committer = HeldCommitter()
        let reads = ReadCounter()
        let metrics = IngestMetrics()
        let budget: MemoryBudget

        init(budgetBytes: Int = 64 << 20, unread: UnreadReplies? = nil) throws {
            budget = MemoryBudget(limit: budgetBytes, maxLineBytes: 1 << 20)
            channel = EmbeddedChannel()
            let handler = IngestConnectionHandler(
                maxLineBytes: 1 << 20,
                validator: EventValidator(maxEventBytes: 1 << 20, defaultEnvironment: "test"),
                writer: committer,
                metrics: metrics,
                budget: budget
            )
            try channel.pipeline.syncOperations.addHandler(reads)
            if let unread { try channel.pipeline.syncOperations.addHandler(unread) }
            try channel.pipeline.syncOperations.addHandler(handler)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        func send(_ text: String) throws {
            try channel.writeInbound(channel.allocator.buffer(string: text))
        }

        /// Commits the oldest burst and runs what the loop was handed.
        func commitNext(_ outcome: QueueWriter.Outcome? = nil) {
            committer.commitNext(outcome)
            channel.embeddedEventLoop.run()
        }

        /// Every reply written so far, one string a line.
        func replies() throws -> [String] {
            var lines: [String] = []
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
                lines += String(buffer: buffer).split(separator: "\n").map(String.init)
            }
            return lines
        }

        /// Asks the handler to read, as NIO does after each burst.
        func askToRead() -> Bool {
            let before = reads.reads
            channel.read()
            return reads.reads > before
        }
    }

    static func line(_ n: Int) -> String {
        #"{"conversation_id":"c","role":"user","message":"m\#(n)"}"# + "\n"
    }

    static let ok = #"{"ok":true,"accepted":1,"firstId":1}"#

    @Test("pipelining: lines of several bursts are answered in order, each after its commit")
    func pipelining() throws {
        let connection = try Connection()
        try connection.send(Self.line(1) + Self.line(2))
        try connection.send("not json\n" + Self.line(4))
        #expect(connection.committer.held == 2)
        #expect(try connection.replies().isEmpty, "no reply before the commit")
        connection.commitNext()
        #expect(try connection.replies() == [Self.ok, Self.ok])
        connection.commitNext()
        let second = try connection.replies()
        #expect(second.count == 2 && second[0].contains("line 3") && second[1] == Self.ok, "\(second)")
        #expect(connection.metrics.acceptedEvents.current == 3)
    }

    @Test("back-pressure: with two bursts at the writer, reads wait until one is answered")
    func backPressure() throws {
        let connection = try Connection()
        #expect(connection.askToRead())
        try connection.send(Self.line(1))
        try connection.send(Self.line(2))
        #expect(!connection.askToRead(), "held: two bursts outstanding")
        let before = connection.reads.reads
        connection.commitNext()
        #expect(connection.reads.reads == before + 1, "the held read goes out with the answer")
        #expect(try connection.replies() == [Self.ok])
    }

    @Test("the reply-prefix rule: a client that leaves replies unread gets a prefix, never a gap")
    func replyPrefix() throws {
        let unread = UnreadReplies()
        let connection = try Connection(unread: unread)
        // Bursts of 10,000 replies of 37 bytes (with `firstId`): two fit in 1 MiB unread, the third does not.
        let lines = String(repeating: Self.line(0), count: 10_000)
        for burst in 1...6 {
            try connection.send(lines)
            connection.commitNext()
            if burst == 5 { unread.release() }  // the client reads everything: too late
        }
        #expect(connection.committer.held == 0)
        unread.release()
        let replies = try connection.replies()
        #expect(replies.count == 20_000, "two whole bursts, then nothing")
        #expect(replies.allSatisfy { $0 == Self.ok })
        #expect(connection.metrics.droppedReplies.current == 40_000)
        #expect(connection.metrics.acceptedEvents.current == 60_000, "every line still queued")
    }

    @Test("half-close: a final line without \"\\n\" is queued and answered, then the connection closes")
    func halfCloseFinalLine() throws {
        let connection = try Connection()
        var last = Self.line(2)
        last.removeLast()
        try connection.send(Self.line(1) + last)
        connection.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(connection.committer.held == 2, "the line and then the final one")
        connection.commitNext()
        #expect(connection.channel.isActive, "open until every reply is out")
        connection.commitNext()
        #expect(try connection.replies() == [Self.ok, Self.ok])
        #expect(!connection.channel.isActive, "closed after the last reply")
    }

    @Test("the budget: a connection past it pauses reads, and resumes when its commit frees room")
    func budgetPauseAndResume() throws {
        let connection = try Connection(budgetBytes: 1 << 20)
        let line = #"{"conversation_id":"c","role":"user","message":""# + String(repeating: "x", count: 1000) + "\"}\n"
        try connection.send(String(repeating: line, count: 1100))
        #expect(connection.budget.bufferedBytes > 1 << 20)
        #expect(connection.budget.readPauses == 1)
        #expect(!connection.askToRead(), "paused by the budget")
        let before = connection.reads.reads
        connection.commitNext()
        connection.channel.embeddedEventLoop.run()
        #expect(connection.reads.reads == before + 1, "resumed once the commit gave the room back")
        #expect(try connection.replies().count == 1100)
        #expect(connection.budget.bufferedBytes == 0)
    }

    @Test("the idle timeout: what was framed is answered, a partial line dropped, then the connection closes")
    func idleTimeout() throws {
        let connection = try Connection()
        try connection.send(Self.line(1) + #"{"partial":"#)
        connection.channel.pipeline.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.read)
        #expect(!connection.askToRead(), "no more reads once idle")
        #expect(connection.channel.isActive)
        connection.commitNext()
        #expect(try connection.replies() == [Self.ok])
        #expect(!connection.channel.isActive)
        #expect(connection.committer.held == 0, "the partial line was never a line")
    }

    @Test("the peer gone: its unterminated last line is queued, and the budget left once it is answered")
    func peerGone() throws {
        let connection = try Connection()
        try connection.send(#"{"conversation_id":"c","role":"user","message":"last"}"#)
        #expect(connection.budget.bufferedBytes > 0, "the partial line is held")
        try connection.channel.close().wait()
        #expect(connection.committer.held == 1)
        connection.commitNext()
        #expect(connection.metrics.acceptedEvents.current == 1)
        #expect(connection.budget.bufferedBytes == 0)
    }
}
