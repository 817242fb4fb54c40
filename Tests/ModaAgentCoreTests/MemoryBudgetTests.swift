import ModaAgentTestSupport
import NIOConcurrencyHelpers
import Testing

@testable import ModaAgentCore

/// The budget's policy without sockets: who is paused, who is let go when room comes back.
@Suite("memory budget")
struct MemoryBudgetTests {
    /// Tickets whose resumes are recorded by name.
    final class Connections: Sendable {
        let resumed = NIOLockedValueBox<[String]>([])

        let budget: MemoryBudget

        init(budget: MemoryBudget) {
            self.budget = budget
        }

        func ticket(_ name: String) -> MemoryBudget.Ticket {
            let ticket = MemoryBudget.Ticket()
            budget.join(ticket)
            ticket.whenResumed { [resumed] in resumed.withLockedValue { $0.append(name) } }
            return ticket
        }

        func takeResumed() -> [String] {
            resumed.withLockedValue { names in
                defer { names.removeAll() }
                return names
            }
        }
    }

    static let kib = 1024
    /// 1 MiB: partial lines stop at 512 KiB; lines of 256 KiB, so one is finished at a time.
    static let limit = 1024 * kib
    /// Over the share of any of these tests' connections (512 KiB among at most four).
    static let big = 200 * kib

    static func make() -> (MemoryBudget, Connections) {
        let budget = MemoryBudget(limit: limit, maxLineBytes: 256 * kib)
        return (budget, Connections(budget: budget))
    }

    @Test("below half the budget everyone reads on, partial line or not, without a pause")
    func roomForEveryone() {
        let (budget, connections) = Self.make()
        let a = connections.ticket("a")
        budget.account(300 * Self.kib)
        #expect(budget.mayContinue(a, partialBytes: Self.big, completedLine: false))
        #expect(budget.mayContinue(a, partialBytes: 0, completedLine: true))
        #expect(budget.readPauses == 0 && budget.bufferedBytes == 300 * Self.kib)
    }

    @Test("past half: one partial line may finish, the other partial holders pause; complete lines go on up to the budget")
    func partialHoldersPause() {
        let (budget, connections) = Self.make()
        let (a, b, c) = (connections.ticket("a"), connections.ticket("b"), connections.ticket("c"))
        budget.account(600 * Self.kib)
        #expect(budget.mayContinue(a, partialBytes: Self.big, completedLine: false), "the first becomes the finisher")
        #expect(a.finishing)
        #expect(!budget.mayContinue(b, partialBytes: Self.big, completedLine: false), "the next partial line waits")
        #expect(budget.mayContinue(c, partialBytes: 0, completedLine: true), "complete lines: room up to the budget")
        // The finisher is not held by the budget: its line, however long, is the way out.
        budget.account(500 * Self.kib)
        #expect(budget.mayContinue(a, partialBytes: Self.big, completedLine: false))
        #expect(!budget.mayContinue(c, partialBytes: 0, completedLine: true), "past the budget everyone waits")
        #expect(budget.readPauses == 2)
        #expect(connections.takeResumed().isEmpty)
    }

    @Test("reads a burst: four below half the budget, one past it (so connections let go cannot overrun it by a burst each), four for the finisher")
    func burstSizeFollowsTheBudget() {
        let (budget, connections) = Self.make()
        let (a, b, c) = (connections.ticket("a"), connections.ticket("b"), connections.ticket("c"))
        budget.account(300 * Self.kib)
        #expect(budget.readsAllowed(c, partialBytes: 0, completedLine: true).reads == IngestRecvAllocator.readsPerBurst)
        budget.account(300 * Self.kib)
        #expect(
            budget.readsAllowed(c, partialBytes: 0, completedLine: true) == .init(reads: 1, reserved: 1024),
            "past half: one read a burst, reserved"
        )
        #expect(budget.readsAllowed(a, partialBytes: Self.big, completedLine: false).reads == IngestRecvAllocator.readsPerBurst)
        #expect(a.finishing, "the finisher reads whole bursts: its line is the way out")
        #expect(budget.readsAllowed(b, partialBytes: Self.big, completedLine: false).reads == 0, "paused")
        budget.account(-400 * Self.kib)
        #expect(budget.readsAllowed(c, partialBytes: 0, completedLine: true).reads == IngestRecvAllocator.readsPerBurst)
    }

    @Test("past half, each grant reserves what its read may add: connections let go together cannot take the budget past its limit")
    func grantsReserve() {
        let budget = MemoryBudget(limit: Self.limit, maxLineBytes: 256 * Self.kib)
        let tickets = (0..<200).map { _ -> MemoryBudget.Ticket in
            let ticket = MemoryBudget.Ticket()
            budget.join(ticket)
            return ticket
        }
        budget.account(900 * Self.kib, partial: 900 * Self.kib)
        var reserved = 0
        var paused = 0
        for ticket in tickets {
            // Within its share (512 KiB among 200): 1 KiB, which its next read may double.
            let grant = budget.readsAllowed(ticket, partialBytes: Self.kib, completedLine: false)
            if grant.reads == 0 { paused += 1 }
            if grant.reads == 1 { #expect(grant.reserved == Self.kib, "its buffer again: a read may double it") }
            reserved += grant.reserved
        }
        #expect(paused > 0, "the grants stopped at the limit")
        #expect(reserved >= 100 * Self.kib, "most were let go, each with its reservation: \(reserved)")
        #expect(budget.bufferedBytes == 900 * Self.kib + reserved)
        #expect(budget.bufferedBytes <= Self.limit, "\(budget.bufferedBytes) of \(Self.limit)")
    }

    @Test("past half, a partial line within its share reads on: a client whose read ended mid-line")
    func smallPartialReadsOn() {
        let (budget, connections) = Self.make()
        let (a, b, small) = (connections.ticket("a"), connections.ticket("b"), connections.ticket("small"))
        budget.account(700 * Self.kib)
        #expect(budget.mayContinue(a, partialBytes: Self.big, completedLine: false))
        #expect(!budget.mayContinue(b, partialBytes: Self.big, completedLine: false))
        #expect(budget.mayContinue(small, partialBytes: 2 * Self.kib, completedLine: true))
        #expect(!small.finishing)
    }

    @Test("commits give room back: waiters resume in order, as many as one full read each fits")
    func resumeOnRelease() {
        let (budget, connections) = Self.make()
        let (c, d) = (connections.ticket("c"), connections.ticket("d"))
        budget.account(Self.limit + 10 * Self.kib)
        #expect(!budget.mayContinue(c, partialBytes: 0, completedLine: true))
        #expect(!budget.mayContinue(d, partialBytes: 0, completedLine: true))
        budget.account(-20 * Self.kib)
        #expect(connections.takeResumed().isEmpty, "not enough for a read yet")
        budget.account(-60 * Self.kib)
        #expect(connections.takeResumed() == ["c"], "room for one read: the first in line")
        budget.account(-200 * Self.kib)
        #expect(connections.takeResumed() == ["d"])
    }

    @Test("a finished line passes the finisher slot to the longest-waiting partial holder")
    func finisherHandOff() {
        let (budget, connections) = Self.make()
        let (a, b, c) = (connections.ticket("a"), connections.ticket("b"), connections.ticket("c"))
        budget.account(700 * Self.kib)
        #expect(budget.mayContinue(a, partialBytes: Self.big, completedLine: false))
        #expect(!budget.mayContinue(b, partialBytes: Self.big, completedLine: false))
        #expect(!budget.mayContinue(c, partialBytes: Self.big, completedLine: false))
        // a's line is complete (and it started another): the slot goes to b, a waits behind c.
        #expect(!budget.mayContinue(a, partialBytes: Self.big, completedLine: true))
        #expect(!a.finishing && b.finishing)
        #expect(connections.takeResumed() == ["b"])
        // b's connection closes mid-line: what it held comes back, the slot goes to c.
        budget.leave(b, held: 100 * Self.kib)
        #expect(c.finishing && connections.takeResumed() == ["c"])
        #expect(budget.bufferedBytes == 600 * Self.kib)
        // Back under half: the remaining partial holder reads on.
        budget.account(-200 * Self.kib)
        #expect(connections.takeResumed() == ["a"])
    }

    @Test("partial lines alone over the budget: one still finishes, so memory comes back (no deadlock)")
    func partialLinesOverTheBudgetStillFinish() {
        let (budget, connections) = Self.make()
        let (a, b, c) = (connections.ticket("a"), connections.ticket("b"), connections.ticket("c"))
        // Reads under way when the budget filled left the partial lines over it, none finishing.
        budget.account(Self.limit + 50 * Self.kib, partial: Self.limit + 50 * Self.kib)
        #expect(budget.mayContinue(a, partialBytes: Self.big, completedLine: false), "the first partial holder finishes")
        #expect(a.finishing)
        #expect(!budget.mayContinue(b, partialBytes: Self.big, completedLine: false), "only one while over the budget")
        #expect(!budget.mayContinue(c, partialBytes: Self.big, completedLine: false))
        // a's line is done (committed, its bytes returned later): the slot passes on at once.
        #expect(budget.mayContinue(a, partialBytes: 0, completedLine: true) == false)
        #expect(b.finishing && connections.takeResumed() == ["b"])
        // b's connection goes mid-line, what it held comes back though still over: c finishes next.
        budget.leave(b, held: 10 * Self.kib, partial: 10 * Self.kib)
        #expect(c.finishing && connections.takeResumed() == ["c"])
    }

    @Test("over the budget with lines in flight, no finisher starts: their commits make the room")
    func inFlightLinesHoldBackFinishers() {
        let (budget, connections) = Self.make()
        let (a, b) = (connections.ticket("a"), connections.ticket("b"))
        // 50 KiB over, 300 KiB of it lines being committed.
        budget.account(Self.limit + 50 * Self.kib, partial: Self.limit - 250 * Self.kib)
        #expect(!budget.mayContinue(a, partialBytes: Self.big, completedLine: false))
        #expect(!budget.mayContinue(b, partialBytes: Self.big, completedLine: false))
        #expect(!a.finishing && connections.takeResumed().isEmpty)
        budget.account(-30 * Self.kib)
        #expect(!a.finishing && connections.takeResumed().isEmpty, "still over, still something to come back")
        budget.account(-40 * Self.kib)
        #expect(a.finishing && connections.takeResumed() == ["a"], "back within the budget: the first in line finishes")
    }

    @Test("open connections count against the budget, never more than a quarter of it")
    func connectionsCost() {
        let budget = MemoryBudget(limit: Self.limit, maxLineBytes: 256 * Self.kib, connectionBytes: 100 * Self.kib)
        let connections = Connections(budget: budget)
        let a = connections.ticket("a")
        budget.account(300 * Self.kib)
        // 300 KiB held and one connection's 100: under half, full reads.
        #expect(budget.allowsFullReads(a))
        let others = (0..<9).map { connections.ticket("c\($0)") }
        // Ten connections cost 256 KiB (a quarter), not 1,000: past half, small reads.
        #expect(!budget.allowsFullReads(a))
        #expect(budget.bufferedBytes == 556 * Self.kib)
        budget.account(400 * Self.kib)
        #expect(budget.mayContinue(a, partialBytes: 0, completedLine: true))
        budget.account(100 * Self.kib)
        #expect(!budget.mayContinue(a, partialBytes: 0, completedLine: true))
        for ticket in others { budget.leave(ticket, held: 0) }
        // Nine gone: 800 KiB and 100 KiB of connection fit again, and the paused one is let go.
        #expect(connections.takeResumed() == ["a"])
    }

    @Test("a body within the budget is taken once nothing else is held, whatever the connections cost")
    func bodyBesideConnections() async throws {
        let budget = MemoryBudget(limit: Self.limit, maxLineBytes: 256 * Self.kib, connectionBytes: 100 * Self.kib)
        let connections = Connections(budget: budget)
        _ = (0..<10).map { connections.ticket("c\($0)") }
        // 256 KiB of connections beside 900 KiB would pass the limit, but nothing else is held.
        let body = try await budget.reserve(900 * Self.kib)
        #expect(budget.bufferedBytes == (256 + 900) * Self.kib)
        budget.release(body)
        #expect(budget.bufferedBytes == 256 * Self.kib)
    }

    /// The connection handler's resume closure holds the handler, which holds the ticket: kept after
    /// leaving, it kept every closed connection (handler, pipeline, buffers) alive for good.
    @Test("a ticket that has left lets go of its resume handler")
    func leaveDropsResumeHandler() {
        final class Holder: Sendable {}
        let budget = MemoryBudget(limit: Self.limit, maxLineBytes: 256 * Self.kib)
        let ticket = MemoryBudget.Ticket()
        weak var released: Holder?
        do {
            let holder = Holder()
            released = holder
            budget.join(ticket)
            ticket.whenResumed { _ = holder }
        }
        #expect(released != nil)
        budget.leave(ticket, held: 0)
        #expect(released == nil)
    }

    @Test("request bodies: larger than the budget refused at once, otherwise wait for room")
    func bodies() async throws {
        let budget = MemoryBudget(limit: Self.limit, maxLineBytes: 256 * Self.kib)
        await #expect(throws: MemoryBudget.ReserveError.largerThanBudget(bytes: Self.limit + 1, limit: Self.limit)) {
            try await budget.reserve(Self.limit + 1)
        }
        let first = try await budget.reserve(800 * Self.kib)
        let second = Task { try await budget.reserve(400 * Self.kib) }
        let queued = await waitFor(timeout: .seconds(5), every: .milliseconds(5)) { budget.readPauses == 1 }
        #expect(queued, "the second body waits")
        #expect(budget.bufferedBytes == 800 * Self.kib)
        budget.release(first)
        let granted = try await second.value
        #expect(budget.bufferedBytes == 400 * Self.kib)
        budget.release(granted)
        #expect(budget.bufferedBytes == 0)
    }

    @Test("a waiting body whose task is cancelled leaves the line at once, taking nothing; the room goes to the next")
    func cancelledBodyLeaves() async throws {
        let budget = MemoryBudget(limit: Self.limit, maxLineBytes: 256 * Self.kib)
        let first = try await budget.reserve(800 * Self.kib)
        let gone = Task { try await budget.reserve(400 * Self.kib) }
        #expect(await waitFor(timeout: .seconds(5), every: .milliseconds(5)) { budget.waitingCount == 1 })
        let next = Task { try await budget.reserve(300 * Self.kib) }
        #expect(await waitFor(timeout: .seconds(5), every: .milliseconds(5)) { budget.waitingCount == 2 })
        gone.cancel()
        await #expect(throws: MemoryBudget.ReserveError.cancelled) { try await gone.value }
        #expect(budget.waitingCount == 1, "the cancelled body's place is given back at once")
        #expect(budget.bufferedBytes == 800 * Self.kib)
        budget.release(first)
        let granted = try await next.value
        #expect(budget.bufferedBytes == 300 * Self.kib, "nothing granted to the cancelled body")
        budget.release(granted)
        #expect(budget.bufferedBytes == 0)
        // Cancelled before it ever waited: refused without joining the line.
        let held = try await budget.reserve(800 * Self.kib)
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await budget.reserve(400 * Self.kib)
        }
        await #expect(throws: MemoryBudget.ReserveError.cancelled) { try await early.value }
        #expect(budget.waitingCount == 0)
        budget.release(held)
    }
}

extension MemoryBudget {
    /// `readsAllowed`'s decision alone: a grant's reservation is given back at once, as a connection's
    /// next burst would settle it.
    func mayContinue(_ ticket: Ticket, partialBytes: Int, completedLine: Bool) -> Bool {
        let grant = readsAllowed(ticket, partialBytes: partialBytes, completedLine: completedLine)
        if grant.reserved > 0 { account(-grant.reserved, partial: -grant.reserved) }
        return grant.reads > 0
    }
}
