import Testing

@testable import ModaAgentCore

/// Every decision of an ingest connection, checked on the value alone: no socket, no writer.
@Suite("ingest connection state machine")
struct IngestConnectionStateMachineTests {
    typealias Machine = IngestConnectionStateMachine

    private static func event(_ line: Int) -> Machine.Entry {
        .events(line: line)
    }

    private static let invalid = IngestReply.rejected(line: 2, message: "bad", retryable: false)

    /// Frames `lines` accepted lines of 10 bytes each and ends the burst.
    private static func burst(_ machine: inout Machine, lines: ClosedRange<Int>, partial: Int = 0) -> [Machine.Action] {
        for line in lines { machine.append(event(line), bytes: 10) }
        return machine.handle(.readComplete(lineNumber: lines.upperBound), partialBytes: partial)
    }

    private static func submitted(_ actions: [Machine.Action]) -> Machine.Burst? {
        for case .submit(let burst) in actions { return burst }
        return nil
    }

    private static func written(_ actions: [Machine.Action]) -> String? {
        for case .write(let replies) in actions { return String(decoding: replies, as: UTF8.self) }
        return nil
    }

    private static func accepted(_ burst: Machine.Burst) -> [QueueWriter.Outcome] {
        (0..<burst.acceptedLines).map { _ in .accepted(1, firstID: 7) }
    }

    @Test(
        "reply lines spell their numbers as JSON does, whatever their size",
        arguments: [
            (0, Int64(0)), (1, 9), (10, 10), (999, 1_000_000), (1_000, Int64.max),
        ]
    )
    func replyNumbers(count: Int, firstID: Int64) {
        let reply = IngestReply.accepted(count, firstID: firstID)
        #expect(reply.json == "{\"ok\":true,\"accepted\":\(count),\"firstId\":\(firstID)}\n")
        var negative: [UInt8] = []
        IngestReply.appendDecimal(-firstID, to: &negative)
        #expect(String(decoding: negative, as: UTF8.self) == String(-firstID))
    }

    @Test("a burst is submitted once its read completes, accounted, and the budget asked")
    func burstSubmitted() throws {
        var machine = Machine()
        let actions = Self.burst(&machine, lines: 1...3, partial: 100)
        let burst = try #require(Self.submitted(actions))
        #expect(burst.entries.count == 3 && burst.bytes == 30)
        #expect(actions.contains(.account(bytes: 130, partial: 100)))
        #expect(actions.last == .askBudget(partialBytes: 100, completedLine: true))
        #expect(machine.outstanding == 1 && machine.inFlightBytes == 30)
    }

    @Test("pipelining: two bursts may wait on the writer; a third read waits for an answer")
    func pipeliningHoldsReads() throws {
        var machine = Machine()
        let first = try #require(Self.submitted(Self.burst(&machine, lines: 1...2)))
        let reads1 = machine.readRequested()
        #expect(reads1)
        _ = Self.burst(&machine, lines: 3...4)
        let reads2 = machine.readRequested()
        #expect(!reads2, "back-pressure: two bursts outstanding")
        #expect(machine.readHeld)
        let answered = machine.handle(
            .committed(first, Self.accepted(first), unreadReplyBytes: 0),
            partialBytes: 0
        )
        #expect(
            Self.written(answered)
                == #"{"ok":true,"accepted":1,"firstId":7}"# + "\n" + #"{"ok":true,"accepted":1,"firstId":7}"# + "\n"
        )
        #expect(answered.contains(.read), "the held read goes out once a burst is answered")
        #expect(!machine.readHeld)
    }

    /// One row: replies unread in the channel before a burst's answer, and what happens to it.
    @Test(
        "the reply-prefix rule: replies stop once too many wait unread, and never resume",
        arguments: [
            (unread: 0 as Int?, writes: true),
            (unread: Machine.maxUnreadReplyBytes - 74, writes: true),
            (unread: Machine.maxUnreadReplyBytes - 73, writes: false),
            (unread: nil, writes: false),
        ]
    )
    func replyPrefix(unread: Int?, writes: Bool) throws {
        var machine = Machine()
        let first = try #require(Self.submitted(Self.burst(&machine, lines: 1...2)))
        let second = try #require(Self.submitted(Self.burst(&machine, lines: 3...4)))
        // Two replies of 37 bytes each (`firstId` included): 74 bytes.
        let answer = machine.handle(.committed(first, Self.accepted(first), unreadReplyBytes: unread), partialBytes: 0)
        #expect((Self.written(answer) != nil) == writes)
        #expect(answer.contains(.dropReplies(2)) == !writes)
        #expect(machine.repliesStopped == !writes)
        // However empty the channel is afterwards, a stopped stream stays stopped: no gap.
        let next = machine.handle(.committed(second, Self.accepted(second), unreadReplyBytes: 0), partialBytes: 0)
        #expect((Self.written(next) != nil) == writes)
    }

    @Test("replies keep input order: rejections fixed at framing sit between the writer's answers")
    func repliesInOrder() throws {
        var machine = Machine()
        machine.append(Self.event(1), bytes: 10)
        machine.append(.reply(Self.invalid), bytes: 0)
        machine.append(Self.event(3), bytes: 10)
        let burst = try #require(Self.submitted(machine.handle(.readComplete(lineNumber: 3), partialBytes: 0)))
        #expect(burst.acceptedLines == 2, "only the valid lines go to the writer")
        let actions = machine.handle(
            .committed(burst, [.accepted(1, firstID: 41), .queueFull("queue full")], unreadReplyBytes: 0),
            partialBytes: 0
        )
        let text = try #require(Self.written(actions))
        #expect(
            text.split(separator: "\n").map(String.init) == [
                #"{"ok":true,"accepted":1,"firstId":41}"#,
                #"{"ok":false,"accepted":0,"retryable":false,"error":"line 2: bad"}"#,
                #"{"ok":false,"accepted":0,"retryable":true,"error":"line 3: queue full"}"#,
            ]
        )
        #expect(actions.contains(.answered(lines: 3, events: 1, refusals: [.queueFull])))
        #expect(actions.contains(.rejectedLines(["line 2: bad", "line 3: queue full"])))
    }

    @Test("half-close: the last line (framed by the driver without \"\\n\") is submitted, answered, then closed")
    func halfCloseWithFinalLine() throws {
        var machine = Machine()
        machine.append(Self.event(1), bytes: 10)
        let actions = machine.handle(.inputClosed, partialBytes: 0)
        let burst = try #require(Self.submitted(actions))
        #expect(!actions.contains(.close), "not before the reply")
        #expect(machine.inputClosed)
        let answered = machine.handle(.committed(burst, Self.accepted(burst), unreadReplyBytes: 0), partialBytes: 0)
        #expect(Self.written(answered) != nil)
        #expect(answered.last == .close, "closed after its reply was handed over")
    }

    @Test("half-close with nothing left: closes at once")
    func halfCloseEmpty() {
        var machine = Machine()
        let actions3 = machine.handle(.inputClosed, partialBytes: 0)
        #expect(actions3 == [.close])
    }

    @Test("the peer gone: its partial line counts; after a drain it does not")
    func peerGone() {
        var machine = Machine()
        #expect(machine.peerGoneEndsInput)
        _ = machine.handle(.drain, partialBytes: 0)
        #expect(!machine.peerGoneEndsInput, "a drain's partial line is not a line")
        var closed = Machine()
        _ = closed.handle(.inputClosed, partialBytes: 0)
        #expect(!closed.peerGoneEndsInput, "already framed at EOF")
    }

    @Test("the peer gone with a burst in flight: the budget is left only once it is answered")
    func leavesBudgetWhenDone() throws {
        var machine = Machine()
        let burst = try #require(Self.submitted(Self.burst(&machine, lines: 1...1)))
        let gone = machine.handle(.peerGone, partialBytes: 0)
        #expect(!gone.contains { if case .leaveBudget = $0 { true } else { false } })
        let answered = machine.handle(.committed(burst, Self.accepted(burst), unreadReplyBytes: nil), partialBytes: 0)
        #expect(answered.contains(.dropReplies(1)), "a closed channel takes no replies")
        #expect(answered.contains(.leaveBudget(held: 0, partial: 0)))
        #expect(machine.leftBudget)
        // A late completion after leaving changes nothing on the budget.
        let actions4 = machine.handle(.replyWritten(bytes: 24), partialBytes: 0)
        #expect(actions4.isEmpty)
        let actions5 = machine.handle(.removed, partialBytes: 0)
        #expect(actions5.isEmpty, "left once")
    }

    @Test("the budget: a refusal pauses reads until it resumes the connection")
    func budgetPauseAndResume() {
        var machine = Machine()
        _ = Self.burst(&machine, lines: 1...1)
        let actions6 = machine.handle(.budgetRefused, partialBytes: 0)
        #expect(actions6.isEmpty)
        let reads7 = machine.readRequested()
        #expect(!reads7, "paused")
        let actions8 = machine.handle(.budgetResumed, partialBytes: 0)
        #expect(actions8 == [.read])
        let reads9 = machine.readRequested()
        #expect(reads9)
        let actions10 = machine.handle(.budgetResumed, partialBytes: 0)
        #expect(actions10.isEmpty, "a resume without a pause does nothing")
    }

    @Test("the budget resumes a paused connection while bursts are outstanding: reads wait for the writer too")
    func budgetResumeStillBehindWriter() {
        var machine = Machine()
        _ = Self.burst(&machine, lines: 1...1)
        _ = Self.burst(&machine, lines: 2...2)
        _ = machine.handle(.budgetRefused, partialBytes: 0)
        let reads11 = machine.readRequested()
        #expect(!reads11)
        let actions12 = machine.handle(.budgetResumed, partialBytes: 0)
        #expect(actions12.isEmpty)
    }

    @Test(
        "a grant's reservation is on the connection's account until its next burst settles it, and given back if it went"
    )
    func budgetReservation() {
        var machine = Machine()
        _ = machine.handle(.readComplete(lineNumber: 0), partialBytes: 4096)
        #expect(machine.handle(.budgetGranted(reserved: 4096), partialBytes: 4096).isEmpty)
        #expect(machine.accounted == 8192 && machine.accountedPartial == 8192)
        // The read landed and took 1 KiB of the 4 KiB it might have: the rest goes back.
        let settled = machine.handle(.readComplete(lineNumber: 0), partialBytes: 5120)
        #expect(settled.first == .account(bytes: 5120 - 8192, partial: 5120 - 8192))
        #expect(machine.accounted == 5120)

        var gone = Machine()
        _ = gone.handle(.removed, partialBytes: 0)
        #expect(
            gone.handle(.budgetGranted(reserved: 1024), partialBytes: 0) == [.account(bytes: -1024, partial: -1024)],
            "a reservation granted as the connection left goes back at once"
        )
    }

    @Test("a partial line only: the budget hears no completed line, and is accounted its bytes")
    func partialLineAccounting() {
        var machine = Machine()
        let first = machine.handle(.readComplete(lineNumber: 0), partialBytes: 2048)
        #expect(first == [.account(bytes: 2048, partial: 2048), .askBudget(partialBytes: 2048, completedLine: false)])
        machine.append(Self.event(1), bytes: 3000)
        let second = machine.handle(.readComplete(lineNumber: 1), partialBytes: 0)
        #expect(second.contains(.account(bytes: 3000 - 2048, partial: -2048)))
        #expect(second.last == .askBudget(partialBytes: 0, completedLine: true))
    }

    @Test("reply bytes count against the budget until written")
    func replyBytesAccounted() throws {
        var machine = Machine()
        let burst = try #require(Self.submitted(Self.burst(&machine, lines: 1...1)))
        let answered = machine.handle(.committed(burst, Self.accepted(burst), unreadReplyBytes: 0), partialBytes: 0)
        #expect(answered.contains(.account(bytes: 37 - 10, partial: 0)), "the line's 10 bytes out, 37 of reply in")
        let actions13 = machine.handle(.replyWritten(bytes: 37), partialBytes: 0)
        #expect(actions13 == [.account(bytes: -37, partial: 0)])
    }

    @Test("a drain submits what was framed, holds reads, and closes once answered")
    func drain() throws {
        var machine = Machine()
        machine.append(Self.event(1), bytes: 10)
        let actions = machine.handle(.drain, partialBytes: 500)
        let burst = try #require(Self.submitted(actions))
        let reads14 = machine.readRequested()
        #expect(!reads14, "no reads while draining")
        let answered = machine.handle(.committed(burst, Self.accepted(burst), unreadReplyBytes: 0), partialBytes: 500)
        #expect(answered.last == .close)
        #expect(!answered.contains(.read))
    }

    @Test("the idle timeout ends the connection like a drain: nothing framed, so it closes at once")
    func idleTimeout() {
        var machine = Machine()
        let actions15 = machine.handle(.idleTimeout, partialBytes: 0)
        #expect(actions15 == [.close])
        let actions16 = machine.handle(.inputClosed, partialBytes: 0)
        #expect(actions16.isEmpty, "closed once")
    }

    @Test("a read asked for during the handler's own write passes, even while reads are held")
    func readDuringWrite() throws {
        var machine = Machine()
        let first = try #require(Self.submitted(Self.burst(&machine, lines: 1...1)))
        _ = Self.burst(&machine, lines: 2...2)
        _ = machine.handle(.committed(first, Self.accepted(first), unreadReplyBytes: 0), partialBytes: 0)
        _ = machine.handle(.drain, partialBytes: 0)
        #expect(machine.writingReplies)
        let reads17 = machine.readRequested()
        #expect(reads17, "the peer may be gone: its last bytes must be read")
        machine.writeIssued()
        let reads18 = machine.readRequested()
        #expect(!reads18)
    }

    @Test("after a drain meets the end of input, reads feed nothing")
    func acceptsInput() {
        var machine = Machine()
        _ = machine.handle(.drain, partialBytes: 0)
        #expect(machine.acceptsInput)
        _ = machine.handle(.inputClosed, partialBytes: 0)
        #expect(!machine.acceptsInput)
    }
}
