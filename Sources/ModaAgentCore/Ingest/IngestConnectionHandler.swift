import NIOCore

/// One client connection: frames lines, validates them on this event loop, hands each read burst
/// to the group-commit writer, and writes the replies in order once the writer has committed.
///
/// Backpressure: while `maxOutstanding` bursts wait on the writer, reads are held, so a fast
/// client cannot queue unbounded memory; and what the connection holds (its partial line, lines
/// not yet committed, replies not yet written) is accounted in the shared `MemoryBudget` once per
/// burst, which may hold reads until commits elsewhere make room.
///
/// Replies form a prefix of the full reply stream, never one with a gap (SPEC 3.2): once more than
/// `maxUnreadReplyBytes` of them wait unread, replies stop for the rest of the connection, while its
/// lines are still read and queued. However the peer goes away (EOF, a reset because it closed with
/// replies unread, a failed write), everything it sent is read, and a final line without "\n" counts.
final class IngestConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Sent down the pipeline when the daemon shuts down: stop reading, finish what was read, close.
    struct DrainEvent: Sendable {}

    private enum Entry {
        case events([PreparedEvent])
        case reply(IngestReply)
    }

    private static let maxOutstanding = 2
    /// Unread replies buffered in the channel (beyond the kernel's socket buffer) before the reply
    /// stream stops: about 40,000 replies, so a client that reads late still gets them, while one
    /// that never reads holds at most this much.
    static let maxUnreadReplyBytes = 1 << 20
    /// What an open connection takes beside the bytes it buffers, for the memory budget: measured
    /// at about 6.4 KB (channel, pipeline, this handler, NIO's pooled receive buffer), rounded up.
    static let stateBytes = 8 << 10

    private var framer: LineFramer
    /// Kept apart from `framer`: the framer's callback must not read the framer it is mutating.
    private let maxLineBytes: Int
    private let validator: EventValidator
    private let writer: QueueWriter
    private let metrics: IngestMetrics
    private var entries: [Entry] = []
    private var lineNumbers: [Int] = []
    private var outstanding = 0
    private var burstReceivedAt: Double = 0
    private var burstStamp = ""
    private var readHeld = false
    private var inputClosed = false
    private var draining = false
    /// Set for good once replies were left unread past `maxUnreadReplyBytes` or could not be written.
    private var repliesStopped = false
    /// True while this handler writes: a read NIO asks for then is its last drain of the socket after
    /// a failed write (the peer is gone), and holding it back would lose the lines still in the socket.
    private var writingReplies = false
    /// The last reply write, so the connection closes only once replies are out, not with them queued.
    private var lastWrite: EventLoopFuture<Void>?
    private var closing = false

    let budget: MemoryBudget
    let ticket = MemoryBudget.Ticket()
    /// Bytes of accepted lines in `entries`, not yet handed to the writer.
    private var burstBytes = 0
    /// Bytes of lines handed to the writer and not yet committed.
    private var inFlightBytes = 0
    /// Reply bytes written to the channel and not yet out of it.
    private var replyBytes = 0
    /// What the budget has on this connection's account.
    private var accounted = 0
    /// The part of `accounted` that is this connection's unfinished line.
    private var accountedPartial = 0
    private var budgetPaused = false
    private var lineNumberAtBurstStart = 0
    /// The connection is gone and its account closed; later completions change nothing.
    private var leftBudget = false
    private var inactive = false

    init(
        maxLineBytes: Int,
        validator: EventValidator,
        writer: QueueWriter,
        metrics: IngestMetrics,
        budget: MemoryBudget
    ) {
        // A line must fit in the budget too; one larger than the whole of it can never be taken in.
        self.framer = LineFramer(maxLineBytes: budget.lineLimit)
        self.maxLineBytes = maxLineBytes
        self.validator = validator
        self.writer = writer
        self.metrics = metrics
        self.budget = budget
    }

    func handlerAdded(context: ChannelHandlerContext) {
        budget.join(ticket)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let loop = context.eventLoop
        ticket.whenResumed {
            loop.execute {
                let (handler, context) = bound.value
                handler.budgetResumed(context: context)
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        leaveBudget()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !draining || !inputClosed else { return }
        var buffer = unwrapInboundIn(data)
        startBurstIfNeeded()
        let stamp = burstStamp
        framer.consume(&buffer) { item in self.handle(item, stamp: stamp) }
    }

    /// One receive time per read burst (everything until channelReadComplete): the stamp for
    /// events without a timestamp and the queue's received_at, taken once rather than per line.
    private func startBurstIfNeeded() {
        guard entries.isEmpty else { return }
        burstReceivedAt = Timestamp.now()
        burstStamp = Timestamp.iso8601(burstReceivedAt)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        submit(context: context)
        settleBudget()
        let completedLine = framer.lineNumber != lineNumberAtBurstStart
        lineNumberAtBurstStart = framer.lineNumber
        if !leftBudget && !budget.mayContinue(ticket, partialBytes: framer.stashedBytes, completedLine: completedLine) {
            budgetPaused = true
        }
        context.fireChannelReadComplete()
    }

    /// Brings the budget up to date with what this connection holds: one atomic add per call.
    private func settleBudget() {
        guard !leftBudget else { return }
        let partial = framer.stashedBytes
        let held = partial + burstBytes + inFlightBytes + replyBytes
        budget.account(held - accounted, partial: partial - accountedPartial)
        accounted = held
        accountedPartial = partial
    }

    /// Once the peer is gone and every burst is answered, nothing more is held for it.
    private func leaveBudgetIfDone() {
        if inactive && outstanding == 0 && entries.isEmpty { leaveBudget() }
    }

    private func leaveBudget() {
        guard !leftBudget else { return }
        leftBudget = true
        budget.leave(ticket, held: accounted, partial: accountedPartial)
        accounted = 0
        accountedPartial = 0
    }

    private func budgetResumed(context: ChannelHandlerContext) {
        guard budgetPaused else { return }
        budgetPaused = false
        resumeReadingIfPossible(context: context)
    }

    private func resumeReadingIfPossible(context: ChannelHandlerContext) {
        if readHeld && outstanding < Self.maxOutstanding && !draining && !budgetPaused {
            readHeld = false
            context.read()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let channelEvent = event as? ChannelEvent, channelEvent == .inputClosed {
            inputClosed = true
            startBurstIfNeeded()
            let stamp = burstStamp
            framer.finish { item in self.handle(item, stamp: stamp) }
            submit(context: context)
            settleBudget()
            closeIfFinished(context: context)
        } else if event is DrainEvent {
            // Lines already framed are submitted; a partial line was never completed, so it is not
            // a line yet and gets no reply.
            draining = true
            submit(context: context)
            closeIfFinished(context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func read(context: ChannelHandlerContext) {
        if writingReplies {
            context.read()
            return
        }
        if outstanding >= Self.maxOutstanding || draining || budgetPaused {
            readHeld = true
        } else {
            context.read()
        }
    }

    /// The peer is gone, whether by a reset or a failed write rather than a clean EOF: what it sent is all
    /// read by now, so an unterminated last line is complete (SPEC 3.1). A shutdown drain is different:
    /// the peer is still there and its partial line is not a line yet.
    func channelInactive(context: ChannelHandlerContext) {
        if !inputClosed && !draining {
            inputClosed = true
            startBurstIfNeeded()
            let stamp = burstStamp
            framer.finish { item in self.handle(item, stamp: stamp) }
            submit(context: context)
        }
        inactive = true
        settleBudget()
        leaveBudgetIfDone()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A broken peer only ends its own connection; what it sent and we committed stays queued.
        context.close(promise: nil)
    }

    private func handle(_ item: LineFramer.Item, stamp: String) {
        switch item {
        case .tooLong(let number):
            metrics.rejected(.tooLarge)
            append(
                .reply(
                    .rejected(
                        line: number,
                        message: tooLongMessage,
                        retryable: false
                    )
                ),
                line: number
            )
        case .line(let number, let bytes):
            if Self.isBlank(bytes) { return }
            switch validator.prepare(line: bytes, receivedAt: stamp) {
            case .success(let events):
                burstBytes &+= bytes.count
                append(.events(events), line: number)
            case .failure(let rejection):
                metrics.rejected(rejection.isTooLarge ? .tooLarge : .invalid)
                append(.reply(.rejected(line: number, message: rejection.message, retryable: false)), line: number)
            }
        }
    }

    private var tooLongMessage: String {
        if budget.limit < maxLineBytes {
            return "line is longer than memory.maxBufferedBytes (\(budget.limit) bytes), all the daemon buffers "
                + "for its clients; it was discarded up to the next newline. Send smaller lines or raise the limit"
        }
        return "line is longer than socket.maxLineBytes (\(maxLineBytes) bytes); "
            + "it was discarded up to the next newline. Send smaller lines or raise the limit"
    }

    private func append(_ entry: Entry, line: Int) {
        entries.append(entry)
        lineNumbers.append(line)
    }

    private func submit(context: ChannelHandlerContext) {
        guard !entries.isEmpty else { return }
        let batch = entries
        let numbers = lineNumbers
        let bytes = burstBytes
        entries.removeAll(keepingCapacity: true)
        lineNumbers.removeAll(keepingCapacity: true)
        burstBytes = 0
        inFlightBytes += bytes
        outstanding += 1
        var lines: [[PreparedEvent]] = []
        for case .events(let events) in batch { lines.append(events) }
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let finish: @Sendable ([QueueWriter.Outcome]) -> Void = { outcomes in
            loop.execute {
                let (handler, context) = bound.value
                handler.complete(batch: batch, numbers: numbers, bytes: bytes, outcomes: outcomes, context: context)
            }
        }
        if lines.isEmpty {
            // Only rejections: nothing to commit, but the replies still wait their turn behind earlier
            // bursts, so they go through the writer too.
            writer.submit(lines: [], receivedAt: 0, completion: finish)
        } else {
            writer.submit(lines: lines, receivedAt: burstReceivedAt, completion: finish)
        }
    }

    private func complete(
        batch: [Entry],
        numbers: [Int],
        bytes: Int,
        outcomes: [QueueWriter.Outcome],
        context: ChannelHandlerContext
    ) {
        outstanding -= 1
        inFlightBytes -= bytes
        var replies = context.channel.allocator.buffer(capacity: batch.count * 32)
        var next = outcomes.makeIterator()
        var accepted = 0
        for (entry, number) in zip(batch, numbers) {
            let reply: IngestReply
            switch entry {
            case .reply(let fixed):
                reply = fixed
            case .events:
                switch next.next() {
                case .accepted(let count, let firstID):
                    accepted += count
                    reply = .accepted(count, firstID: firstID)
                case .queueFull(let message):
                    metrics.rejected(.queueFull)
                    reply = .rejected(line: number, message: message, retryable: true)
                case .failed(let message):
                    metrics.rejected(.writeFailed)
                    reply = .rejected(line: number, message: message, retryable: true)
                case nil:
                    reply = .rejected(line: number, message: "internal error: no outcome", retryable: true)
                }
            }
            if case .rejected(let line, let message, _) = reply {
                writer.tap.rejected(source: "socket", error: "line \(line): \(message)")
            }
            replies.writeString(reply.json)
        }
        metrics.burstAnswered(lines: batch.count, events: accepted)
        write(replies, count: batch.count, context: context)
        settleBudget()
        leaveBudgetIfDone()
        resumeReadingIfPossible(context: context)
        closeIfFinished(context: context)
    }

    private func write(_ replies: ByteBuffer, count: Int, context: ChannelHandlerContext) {
        if !repliesStopped {
            let unread = context.channel.isActive ? (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) : nil
            if let unread, unread + replies.readableBytes <= Self.maxUnreadReplyBytes {
                let size = replies.readableBytes
                replyBytes += size
                writingReplies = true
                let promise = context.eventLoop.makePromise(of: Void.self)
                context.writeAndFlush(wrapOutboundOut(replies), promise: promise)
                writingReplies = false
                lastWrite = promise.futureResult
                let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
                promise.futureResult.whenComplete { _ in
                    let handler = bound.value
                    handler.replyBytes -= size
                    handler.settleBudget()
                }
                return
            }
            repliesStopped = true
        }
        metrics.droppedReplies.add(count)
    }

    private func closeIfFinished(context: ChannelHandlerContext) {
        guard (inputClosed || draining), outstanding == 0, entries.isEmpty, !closing else { return }
        closing = true
        guard let lastWrite, context.channel.isActive else {
            context.close(promise: nil)
            return
        }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        lastWrite.whenComplete { _ in bound.value.close(promise: nil) }
    }

    private static func isBlank(_ bytes: UnsafeRawBufferPointer) -> Bool {
        for byte in bytes where byte != 0x20 && byte != 0x09 && byte != 0x0D {
            return false
        }
        return true
    }
}
