import Testing

@testable import ModaAgentCore

@Suite("queue writer policies (room, head cut)")
struct QueueWriterPolicyTests {
    private typealias Situation = RoomPolicy.Situation

    @Test(
        "room: a line fits, is refused, or makes room (delivered rows first, then the oldest)",
        arguments: [
            // maxBytes, whenFull, events, exports, line, purged → step
            (100, AgentConfig.WhenFull.reject, 60, 0, 40, false, RoomPolicy.Step.insert),
            (100, .reject, 61, 0, 40, false, .refuse(queuedBytes: 61)),
            (100, .reject, 30, 31, 40, false, .refuse(queuedBytes: 61)),
            (100, .dropOldest, 61, 0, 40, false, .purgeDelivered),
            (100, .dropOldest, 61, 0, 40, true, .dropOldest(atLeast: 1)),
            (100, .dropOldest, 90, 0, 100, true, .dropOldest(atLeast: 90)),
            // Exports are never dropped: a line larger than the room they leave is refused.
            (100, .dropOldest, 10, 70, 40, false, .refuse(queuedBytes: 80)),
            (100, .dropOldest, 10, 60, 40, false, .purgeDelivered),
            (100, .dropOldest, 10, 60, 40, true, .dropOldest(atLeast: 10)),
            (100, .dropOldest, 0, 0, 101, false, .refuse(queuedBytes: 0)),
        ]
    )
    func room(
        maxBytes: Int64,
        whenFull: AgentConfig.WhenFull,
        events: Int64,
        exports: Int64,
        line: Int64,
        purged: Bool,
        expected: RoomPolicy.Step
    ) {
        let policy = RoomPolicy(maxBytes: maxBytes, whenFull: whenFull)
        let situation = Situation(eventBytes: events, traceBytes: exports, lineBytes: line, purged: purged)
        #expect(policy.step(situation) == expected)
    }

    @Test("room: an export fits beside what is queued or is refused, never dropping events")
    func exports() {
        let policy = RoomPolicy(maxBytes: 100, whenFull: .dropOldest)
        #expect(policy.fits(export: 40, eventBytes: 30, traceBytes: 30))
        #expect(!policy.fits(export: 41, eventBytes: 30, traceBytes: 30))
    }

    @Test("head cut: lines go first; a chunk runs when idle, or after each commit once far behind")
    func order() {
        var schedule = HeadCutSchedule<Int>(chunkRows: 500, interleavedRows: 100, interleavedCap: 400, backlog: 1000)
        #expect(schedule.next(inboxEmpty: true, committed: nil) == .idle)
        #expect(schedule.next(inboxEmpty: false, committed: 10) == .commit)
        #expect(schedule.delivered(through: 800, waiter: 1) == nil)
        #expect(schedule.next(inboxEmpty: true, committed: 10) == .cut(through: 800, rows: 500))
        #expect(schedule.next(inboxEmpty: false, committed: 10) == .commit, "800 behind: lines first")
        #expect(schedule.delivered(through: 1200, waiter: 2) == nil)
        #expect(
            schedule.next(inboxEmpty: false, committed: 10) == .cut(through: 1200, rows: 100),
            "far behind: one small chunk"
        )
        #expect(schedule.next(inboxEmpty: false, committed: nil) == .commit, "then lines again")
    }

    @Test("head cut: far behind, the chunk after a commit matches what it added, within its floor and cap")
    func proportional() {
        var schedule = HeadCutSchedule<Int>(chunkRows: 500, interleavedRows: 100, interleavedCap: 400, backlog: 1000)
        #expect(schedule.delivered(through: 5000, waiter: 1) == nil)
        #expect(schedule.next(inboxEmpty: false, committed: 250) == .cut(through: 5000, rows: 250))
        #expect(schedule.next(inboxEmpty: false, committed: 3) == .cut(through: 5000, rows: 100), "the floor")
        #expect(schedule.next(inboxEmpty: false, committed: 3000) == .cut(through: 5000, rows: 400), "the cap")
        #expect(schedule.next(inboxEmpty: false, committed: 0) == .cut(through: 5000, rows: 100))
        #expect(schedule.next(inboxEmpty: false, committed: nil) == .commit, "after a chunk: lines")
        _ = schedule.cut(through: 4500)
        #expect(schedule.next(inboxEmpty: false, committed: 3000) == .commit, "500 behind: lines first")
    }

    @Test("head cut: each markDelivered is answered once the cut has passed its ids, not before")
    func waiters() {
        var schedule = HeadCutSchedule<Int>(chunkRows: 500, interleavedRows: 100, interleavedCap: 400, backlog: 1000)
        #expect(schedule.delivered(through: 300, waiter: 1) == nil)
        #expect(schedule.delivered(through: 900, waiter: 2) == nil)
        #expect(schedule.cut(through: 500) == [1])
        #expect(schedule.isCutting)
        #expect(schedule.cut(through: 900) == [2])
        #expect(!schedule.isCutting)
        #expect(schedule.delivered(through: 700, waiter: 3) == 3, "already cut: answered at once")
    }

    @Test("head cut: a failed chunk fails every waiter and stops cutting until delivery asks again")
    func failure() {
        var schedule = HeadCutSchedule<Int>(chunkRows: 500, interleavedRows: 100, interleavedCap: 400, backlog: 1000)
        _ = schedule.delivered(through: 300, waiter: 1)
        _ = schedule.delivered(through: 600, waiter: 2)
        #expect(schedule.cutFailed() == [1, 2])
        #expect(schedule.next(inboxEmpty: true, committed: nil) == .idle)
        #expect(schedule.delivered(through: 600, waiter: 3) == nil)
        #expect(schedule.next(inboxEmpty: true, committed: nil) == .cut(through: 600, rows: 500))
    }
}
