/// Every decision of one ingest connection, as a value: events in, actions out, no I/O.
///
///     lines framed ──┐                                      ┌─ submit the burst to the writer
///     read complete ─┤                                      ├─ write replies / drop them for good
///     committed ─────┤                                      ├─ read on
///     reply written ─┼─▶ IngestConnectionStateMachine ──────┼─ account bytes / ask the budget
///     budget refused / resumed                              ├─ leave the budget
///     input closed, peer gone, drain, idle timeout ─┘       └─ close (after the last reply)
///
/// Reads: at most `maxOutstanding` bursts wait on the writer; past that, or while the memory
/// budget has paused the connection, or once it drains, a read NIO asks for is held and issued
/// when that ends. Replies go out in burst order and form a prefix of the full reply stream
/// (docs/protocol.md): once more than `maxUnreadReplyBytes` of them would wait unread, or the
/// channel cannot take them, replies stop for the rest of the connection while its lines are still
/// read and queued. The connection closes once its input has ended (EOF, the peer gone, a drain or
/// an idle timeout) and every burst read is answered.
///
/// What the connection holds (its unfinished line, lines not yet committed, replies not yet out) is
/// settled with the shared `MemoryBudget` in one `account` per event, until the connection leaves it.
struct IngestConnectionStateMachine {
    /// One line of a burst: accepted by the validator (its events wait in the driver's `PreparedLines`,
    /// one line there per such entry, for the writer), or a reply fixed at framing (a rejection).
    enum Entry: Equatable {
        case events(line: Int)
        case reply(IngestReply)
    }

    /// The lines read since the last submit, handed to the writer together.
    struct Burst: Equatable {
        var entries: [Entry] = []
        /// Bytes of the accepted lines, counted as held until their commit.
        var bytes = 0

        /// Lines the validator accepted: the lines handed to the writer with this burst.
        var acceptedLines: Int {
            entries.count { if case .events = $0 { true } else { false } }
        }
    }

    enum Event {
        /// A read burst ended (`channelReadComplete`); `lineNumber` is the framer's count so far.
        case readComplete(lineNumber: Int)
        /// The budget answered an `askBudget` with no: reads wait for `budgetResumed`.
        case budgetRefused
        case budgetResumed
        /// The budget let reads go on and counted `reserved` bytes on this connection's account (as
        /// unfinished line) for what the next read may add; the next settlement gives back what it did not.
        case budgetGranted(reserved: Int)
        /// The peer shut its side (EOF); the driver has framed its unterminated last line.
        case inputClosed
        /// The channel went inactive (a reset, a failed write, our own close). When
        /// `peerGoneEndsInput` held, the driver has framed the unterminated last line first.
        case peerGone
        /// The daemon shuts down: answer what was read, then close. A partial line is not a line.
        case drain
        /// Nothing was read for the idle time: like a drain, the peer is still there.
        case idleTimeout
        /// The writer answered `burst`; `unreadReplyBytes` is what waits unread in the channel
        /// now, nil when the channel cannot tell (it is closed).
        case committed(Burst, [QueueWriter.Outcome], unreadReplyBytes: Int?)
        /// Replies of `bytes` left the channel (or failed to): no longer held.
        case replyWritten(bytes: Int)
        /// The handler left the pipeline.
        case removed
    }

    enum Action: Equatable {
        case submit(Burst)
        case read
        /// Write the replies of one burst; call `writeIssued`, then report `replyWritten`.
        case write([UInt8])
        /// The reply stream has stopped: these replies are never written.
        case dropReplies(Int)
        /// For the metrics: a burst answered, and why its lines were refused at the writer.
        case answered(lines: Int, events: Int, refusals: [IngestMetrics.RejectReason])
        /// The burst's error replies, for `modactl tail`.
        case rejectedLines([String])
        case account(bytes: Int, partial: Int)
        /// Ask `MemoryBudget.readsAllowed`; a no (0 reads) is reported as `budgetRefused`.
        case askBudget(partialBytes: Int, completedLine: Bool)
        case leaveBudget(held: Int, partial: Int)
        /// Close once the last reply written is out.
        case close
    }

    static let maxOutstanding = 2
    /// Unread replies buffered in the channel (beyond the kernel's socket buffer) before the reply
    /// stream stops: about 40,000 replies, so a client that reads late still gets them, while one
    /// that never reads holds at most this much.
    static let maxUnreadReplyBytes = 1 << 20

    private(set) var burst = Burst()
    /// Bursts handed to the writer and not yet answered.
    private(set) var outstanding = 0
    /// NIO asked for a read we held back; it is issued when reads may go on.
    private(set) var readHeld = false
    private(set) var inputClosed = false
    private(set) var draining = false
    /// Set for good once replies were left unread past `maxUnreadReplyBytes` or could not be written.
    private(set) var repliesStopped = false
    /// True while the driver writes: a read NIO asks for then is its last drain of the socket after a
    /// failed write (the peer is gone), and holding it back would lose the lines still in the socket.
    private(set) var writingReplies = false
    private(set) var closing = false
    private(set) var budgetPaused = false
    /// The connection is gone and its account closed; later completions change nothing.
    private(set) var leftBudget = false
    private(set) var inactive = false

    /// Bytes of lines handed to the writer and not yet committed.
    private(set) var inFlightBytes = 0
    /// Reply bytes written to the channel and not yet out of it.
    private(set) var replyBytes = 0
    /// What the budget has on this connection's account, and the part that is its unfinished line.
    private(set) var accounted = 0
    private(set) var accountedPartial = 0
    private var lineNumberAtBurstStart = 0

    /// Whether reads still feed the framer: not once a drain has met the end of input.
    var acceptsInput: Bool { !draining || !inputClosed }

    /// Whether the peer going away ends the input here, so its unterminated last line counts: it is
    /// all read by then. Not after EOF (already framed) nor in a drain (the peer is still there).
    var peerGoneEndsInput: Bool { !inputClosed && !draining }

    /// One line framed (the per-line event, kept free of actions for the hot path); `bytes` is what
    /// an accepted line holds until its commit, 0 for a rejection.
    mutating func append(_ entry: Entry, bytes: Int) {
        burst.entries.append(entry)
        burst.bytes &+= bytes
    }

    /// NIO asks to read: true to pass the read on now, false to hold it until reads may go on.
    mutating func readRequested() -> Bool {
        if writingReplies { return true }
        if outstanding >= Self.maxOutstanding || draining || budgetPaused {
            readHeld = true
            return false
        }
        return true
    }

    /// The driver has handed a `write`'s replies to the channel (called straight after, not queued
    /// behind other events: reads NIO asks for during the write itself must pass).
    mutating func writeIssued() {
        writingReplies = false
    }

    /// `partialBytes`: what the connection's unfinished line takes now (the framer's stash).
    mutating func handle(_ event: Event, partialBytes: Int) -> [Action] {
        var actions: [Action] = []
        switch event {
        case .readComplete(let lineNumber):
            submit(&actions)
            settle(partialBytes, &actions)
            let completedLine = lineNumber != lineNumberAtBurstStart
            lineNumberAtBurstStart = lineNumber
            if !leftBudget { actions.append(.askBudget(partialBytes: partialBytes, completedLine: completedLine)) }
        case .budgetRefused:
            budgetPaused = true
        case .budgetGranted(let reserved):
            if leftBudget {
                // Granted as the connection went: the budget holds the reservation on no one's account.
                actions.append(.account(bytes: -reserved, partial: -reserved))
            } else {
                accounted += reserved
                accountedPartial += reserved
            }
        case .budgetResumed:
            guard budgetPaused else { break }
            budgetPaused = false
            resumeReading(&actions)
        case .inputClosed:
            inputClosed = true
            submit(&actions)
            settle(partialBytes, &actions)
            closeIfFinished(&actions)
        case .peerGone:
            if peerGoneEndsInput {
                inputClosed = true
                submit(&actions)
            }
            inactive = true
            settle(partialBytes, &actions)
            leaveBudgetIfDone(&actions)
        case .drain, .idleTimeout:
            draining = true
            submit(&actions)
            closeIfFinished(&actions)
        case .committed(let answered, let outcomes, let unread):
            outstanding -= 1
            inFlightBytes -= answered.bytes
            answer(answered, outcomes, unread: unread, &actions)
            settle(partialBytes, &actions)
            leaveBudgetIfDone(&actions)
            resumeReading(&actions)
            closeIfFinished(&actions)
        case .replyWritten(let bytes):
            replyBytes -= bytes
            settle(partialBytes, &actions)
        case .removed:
            leaveBudget(&actions)
        }
        return actions
    }

    private mutating func submit(_ actions: inout [Action]) {
        guard !burst.entries.isEmpty else { return }
        inFlightBytes += burst.bytes
        outstanding += 1
        let capacity = burst.entries.capacity
        actions.append(.submit(burst))
        burst = Burst()
        burst.entries.reserveCapacity(capacity)
    }

    private mutating func answer(
        _ answered: Burst,
        _ outcomes: [QueueWriter.Outcome],
        unread: Int?,
        _ actions: inout [Action]
    ) {
        let replies = BurstReplies(answered, outcomes: outcomes)
        actions.append(.answered(lines: replies.count, events: replies.acceptedEvents, refusals: replies.refusals))
        if !replies.rejections.isEmpty { actions.append(.rejectedLines(replies.rejections)) }
        if !repliesStopped {
            let size = replies.text.count
            if let unread, unread + size <= Self.maxUnreadReplyBytes {
                replyBytes += size
                writingReplies = true
                actions.append(.write(replies.text))
                return
            }
            repliesStopped = true
        }
        actions.append(.dropReplies(replies.count))
    }

    /// Brings the budget up to date with what this connection holds: one atomic add per event.
    private mutating func settle(_ partialBytes: Int, _ actions: inout [Action]) {
        guard !leftBudget else { return }
        let held = partialBytes + burst.bytes + inFlightBytes + replyBytes
        let delta = held - accounted
        let partialDelta = partialBytes - accountedPartial
        accounted = held
        accountedPartial = partialBytes
        if delta != 0 || partialDelta != 0 { actions.append(.account(bytes: delta, partial: partialDelta)) }
    }

    /// Once the peer is gone and every burst is answered, nothing more is held for it.
    private mutating func leaveBudgetIfDone(_ actions: inout [Action]) {
        if inactive && outstanding == 0 && burst.entries.isEmpty { leaveBudget(&actions) }
    }

    private mutating func leaveBudget(_ actions: inout [Action]) {
        guard !leftBudget else { return }
        leftBudget = true
        actions.append(.leaveBudget(held: accounted, partial: accountedPartial))
        accounted = 0
        accountedPartial = 0
    }

    private mutating func resumeReading(_ actions: inout [Action]) {
        if readHeld && outstanding < Self.maxOutstanding && !draining && !budgetPaused {
            readHeld = false
            actions.append(.read)
        }
    }

    private mutating func closeIfFinished(_ actions: inout [Action]) {
        guard inputClosed || draining, outstanding == 0, burst.entries.isEmpty, !closing else { return }
        closing = true
        actions.append(.close)
    }
}
