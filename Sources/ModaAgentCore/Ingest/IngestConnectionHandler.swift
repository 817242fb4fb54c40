import NIOCore

/// Drives one client connection's `IngestConnectionStateMachine`: frames lines and validates them
/// on this event loop, feeds the machine what happens (reads, commits, written replies, the memory
/// budget's answers, the end of input) and carries out what it decides. It decides nothing itself.
///
/// Events that arrive while the handler carries out actions (a write that fails inline closes the
/// channel, a failed write completes its promise at once) are queued and handled after them, so
/// the machine always sees one event at a time in the order they happened.
final class IngestConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    typealias Machine = IngestConnectionStateMachine

    /// Sent down the pipeline when the daemon shuts down: stop reading, finish what was read, close.
    struct DrainEvent: Sendable {}

    /// What an open connection takes beside the bytes it buffers, for the memory budget: measured
    /// at about 6.4 KB (channel, pipeline, this handler, NIO's pooled receive buffer), rounded up.
    static let stateBytes = 8 << 10

    private var machine = Machine()
    private var framer: LineFramer
    /// Kept apart from `framer`: the framer's callback must not read the framer it is mutating.
    private let maxLineBytes: Int
    private let validator: EventValidator
    private let committer: any IngestCommitter
    private let metrics: IngestMetrics
    /// One receive time per burst: the stamp for events without a timestamp and the queue's received_at.
    private var burstReceivedAt: Double = 0
    private var burstStamp = ""
    /// The events of the burst's accepted lines, one line per `.events` entry of the machine's burst,
    /// handed to the writer with it.
    private var prepared = PreparedLines()
    /// The last reply write, so the connection closes only once replies are out, not with them queued.
    private var lastWrite: EventLoopFuture<Void>?
    private var handling = false
    /// NIO's `maxMessagesPerRead` as last set for this connection (the server's default to start).
    private var readsPerBurst = IngestRecvAllocator.readsPerBurst
    private var queued = CircularBuffer<Machine.Event>(initialCapacity: 4)

    let budget: MemoryBudget
    let ticket = MemoryBudget.Ticket()

    init(
        maxLineBytes: Int,
        validator: EventValidator,
        writer: any IngestCommitter,
        metrics: IngestMetrics,
        budget: MemoryBudget
    ) {
        // A line must fit in the budget too; one larger than the whole of it can never be taken in.
        self.framer = LineFramer(maxLineBytes: budget.lineLimit)
        self.maxLineBytes = maxLineBytes
        self.validator = validator
        self.committer = writer
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
                handler.handle(.budgetResumed, context: context)
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        handle(.removed, context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard machine.acceptsInput else { return }
        var buffer = unwrapInboundIn(data)
        startBurstIfNeeded()
        let stamp = burstStamp
        framer.consume(&buffer) { item in self.frame(item, stamp: stamp) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        handle(.readComplete(lineNumber: framer.lineNumber), context: context)
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let channelEvent = event as? ChannelEvent, channelEvent == .inputClosed {
            handle(.inputClosed, context: context)
        } else if event is DrainEvent {
            handle(.drain, context: context)
        } else if let idle = event as? IdleStateHandler.IdleStateEvent, idle != .write {
            // Nothing read for the idle time (a connection that only has no replies to write is not idle).
            // Only when the pipeline has an IdleStateHandler: the socket's has none (docs/protocol.md).
            handle(.idleTimeout, context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func read(context: ChannelHandlerContext) {
        if machine.readRequested() { context.read() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        handle(.peerGone, context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A broken peer only ends its own connection; what it sent and we committed stays queued.
        context.close(promise: nil)
    }

    // MARK: - Driving the machine

    private func handle(_ event: Machine.Event, context: ChannelHandlerContext) {
        queued.append(event)
        guard !handling else { return }
        handling = true
        defer { handling = false }
        while let next = queued.popFirst() {
            frameRemainderIfInputEnds(next)
            for action in machine.handle(next, partialBytes: framer.stashedBytes) {
                perform(action, context: context)
            }
        }
    }

    /// The end of input completes an unterminated last line (docs/protocol.md) before the machine
    /// hears of it; whether the peer going away ends input is the machine's call.
    private func frameRemainderIfInputEnds(_ event: Machine.Event) {
        switch event {
        case .inputClosed: break
        case .peerGone where machine.peerGoneEndsInput: break
        default: return
        }
        startBurstIfNeeded()
        let stamp = burstStamp
        framer.finish { item in self.frame(item, stamp: stamp) }
    }

    private func perform(_ action: Machine.Action, context: ChannelHandlerContext) {
        switch action {
        case .submit(let burst):
            submit(burst, context: context)
        case .read:
            context.read()
        case .write(let replies):
            write(replies, context: context)
        case .dropReplies(let count):
            metrics.droppedReplies.add(count)
        case .answered(let lines, let events, let refusals):
            for reason in refusals { metrics.rejected(reason) }
            metrics.burstAnswered(lines: lines, events: events)
        case .rejectedLines(let errors):
            committer.rejected(lines: errors)
        case .account(let bytes, let partial):
            budget.account(bytes, partial: partial)
        case .askBudget(let partialBytes, let completedLine):
            let grant = budget.readsAllowed(ticket, partialBytes: partialBytes, completedLine: completedLine)
            // A paused connection resumes with single reads too: the room that woke it is one read's.
            setReadsPerBurst(max(1, grant.reads), context: context)
            if grant.reads == 0 {
                handle(.budgetRefused, context: context)
            } else if grant.reserved > 0 {
                handle(.budgetGranted(reserved: grant.reserved), context: context)
            }
        case .leaveBudget(let held, let partial):
            budget.leave(ticket, held: held, partial: partial)
        case .close:
            guard let lastWrite, context.channel.isActive else {
                context.close(promise: nil)
                return
            }
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            lastWrite.whenComplete { _ in bound.value.close(promise: nil) }
        }
    }

    /// NIO reads the option at the start of each burst; set only when it changes.
    private func setReadsPerBurst(_ reads: Int, context: ChannelHandlerContext) {
        guard reads != readsPerBurst else { return }
        readsPerBurst = reads
        _ = try? context.channel.syncOptions?.setOption(.maxMessagesPerRead, value: UInt(reads))
    }

    private func submit(_ burst: Machine.Burst, context: ChannelHandlerContext) {
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let lines = prepared.take()
        assert(lines.lineCount == burst.acceptedLines, "the prepared lines are the burst's accepted ones")
        // Only rejections: nothing to commit, but the replies still wait their turn behind earlier
        // bursts, so they go through the writer too.
        committer.submit(lines: lines, receivedAt: lines.isEmpty ? 0 : burstReceivedAt) { outcomes in
            loop.execute {
                let (handler, context) = bound.value
                handler.committed(burst, outcomes: outcomes, context: context)
            }
        }
    }

    private func committed(_ burst: Machine.Burst, outcomes: [QueueWriter.Outcome], context: ChannelHandlerContext) {
        let unread =
            context.channel.isActive ? (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) : nil
        handle(.committed(burst, outcomes, unreadReplyBytes: unread), context: context)
    }

    private func write(_ replies: [UInt8], context: ChannelHandlerContext) {
        let bytes = replies.count
        var buffer = context.channel.allocator.buffer(capacity: bytes)
        buffer.writeBytes(replies)
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: promise)
        machine.writeIssued()
        lastWrite = promise.futureResult
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        promise.futureResult.whenComplete { _ in
            let (handler, context) = bound.value
            handler.handle(.replyWritten(bytes: bytes), context: context)
        }
    }

    // MARK: - Framing and validation

    /// A new receive time when a burst starts (the machine holds no line yet), taken once rather than per line.
    private func startBurstIfNeeded() {
        guard machine.burst.entries.isEmpty else { return }
        burstReceivedAt = Timestamp.now()
        burstStamp = Timestamp.iso8601(burstReceivedAt)
    }

    private func frame(_ item: LineFramer.Item, stamp: String) {
        switch item {
        case .tooLong(let number):
            metrics.rejected(.tooLarge)
            machine.append(.reply(.rejected(line: number, message: tooLongMessage, retryable: false)), bytes: 0)
        case .line(let number, let bytes):
            if Self.isBlank(bytes) { return }
            if let rejection = validator.prepare(line: bytes, receivedAt: stamp, into: &prepared) {
                metrics.rejected(rejection.isTooLarge ? .tooLarge : .invalid)
                machine.append(.reply(.rejected(line: number, message: rejection.message, retryable: false)), bytes: 0)
            } else {
                machine.append(.events(line: number), bytes: bytes.count)
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

    private static func isBlank(_ bytes: UnsafeRawBufferPointer) -> Bool {
        for byte in bytes where byte != 0x20 && byte != 0x09 && byte != 0x0D {
            return false
        }
        return true
    }
}
