import Atomics
import NIOConcurrencyHelpers

/// One budget, `memory.maxBufferedBytes`, for everything the daemon holds on behalf of clients:
/// partial lines, lines read but not yet committed, replies not yet written, request bodies.
///
///     0 ──────────── 1/2 ──────────────── 3/4 ──────────────── limit
///     │ partial lines grow │ lines being finished │ lines in flight, │
///     │ freely             │ (a few at a time)    │ replies, bodies  │
///
/// Connections report what they hold once per read burst (one atomic add) and ask whether they may
/// read on; the lock is taken only past `partialLimit` or while someone waits. Past it, the
/// connections that hold the most, partial lines over their share (`partialLimit` divided among the
/// open connections: the memory that stays until their client sends more), pause, except a few
/// finishers, which may complete their lines so that commits free them; the quarter left is for
/// lines that arrive whole and for small partial lines, and past `limit` every connection but the
/// finishers pauses and waits for commits. Paused connections are not read: their clients are held
/// back by the kernel's socket buffers, nothing is lost. Releases wake them in order, as many as the
/// room left can take one full read each.
public final class MemoryBudget: Sendable {
    /// One connection's (or body's) place in the budget.
    public final class Ticket: Sendable {
        fileprivate let isFinisher = ManagedAtomic<Bool>(false)
        private let onResume = NIOLockedValueBox<(@Sendable () -> Void)?>(nil)

        public init() {}

        /// What runs when the budget lets this ticket read again (called from any thread).
        public func whenResumed(_ body: @escaping @Sendable () -> Void) {
            onResume.withLockedValue { $0 = body }
        }

        fileprivate func resume() {
            onResume.withLockedValue { $0 }?()
        }

        /// A ticket that has left is never resumed; dropping the handler also ends the cycle
        /// connection → ticket → handler that would otherwise keep every closed connection alive.
        fileprivate func forgetResume() {
            onResume.withLockedValue { $0 = nil }
        }

        /// The one connection allowed to grow its partial line past `partialLimit`.
        public var finishing: Bool { isFinisher.load(ordering: .relaxed) }
    }

    /// A request body's share of the budget, held until `release`.
    public struct Reservation: Sendable {
        public let bytes: Int
    }

    public enum ReserveError: Error, Sendable, Equatable {
        /// Larger than the whole budget: it could never fit.
        case largerThanBudget(bytes: Int, limit: Int)
        /// The waiting task was cancelled (its client closed the connection): nothing was taken.
        case cancelled
    }

    /// The numbers `modactl status` shows (and metrics may read).
    public struct Snapshot: Sendable, Equatable {
        public var bufferedBytes: Int
        public var maxBufferedBytes: Int
        public var readPauses: Int
    }

    private enum Waiter {
        case connection(Ticket, partial: Bool)
        /// `id` finds it again when its task is cancelled; resumed with whether it got its bytes.
        case body(Int, id: UInt64, CheckedContinuation<Bool, Never>)
    }

    private struct State {
        var waiters: [Waiter] = []
        var finishers = 0
        var nextBodyID: UInt64 = 0
    }

    /// What one read takes at most (NIO's largest adaptive receive buffer); a woken connection is
    /// expected to take that much before it asks again.
    static let fullRead = 65536
    /// Reads past `partialLimit` are this small, so connections already armed when the budget fills
    /// each take little before their next question pauses them.
    static let smallRead = 1024
    /// Reads a burst while the budget has room (`IngestRecvAllocator.readsPerBurst`).
    static let fullBurst = IngestRecvAllocator.readsPerBurst

    public let limit: Int
    /// What each open connection costs beside what it buffers (NIO's channel and pipeline, the
    /// handler, its pooled receive buffer: about 6.4 KB each, measured with 1,000 connections),
    /// counted against the budget up to a quarter of it, so many connections leave less room for
    /// data without ever filling the budget on their own.
    let connectionBytes: Int
    let partialLimit: Int
    /// The longest line taken in: `socket.maxLineBytes`, or the whole budget if that is less.
    let lineLimit: Int
    /// Lines finished at once: as many as a quarter of the budget holds, at least one.
    let maxFinishers: Int
    private let connections = ManagedAtomic<Int>(0)
    private let used = ManagedAtomic<Int>(0)
    /// The part of `used` that is partial lines: memory only finishing them gives back.
    private let partial = ManagedAtomic<Int>(0)
    private let waiting = ManagedAtomic<Int>(0)
    private let pauses = ManagedAtomic<Int>(0)
    private let state = NIOLockedValueBox(State())

    public init(limit: Int, maxLineBytes: Int, connectionBytes: Int = 0) {
        self.limit = max(1, limit)
        self.connectionBytes = max(0, connectionBytes)
        self.partialLimit = self.limit / 2
        self.lineLimit = max(1, min(maxLineBytes, self.limit))
        self.maxFinishers = max(1, self.limit / 4 / self.lineLimit)
    }

    /// What counts against the budget: the bytes held and the open connections' own cost.
    public var bufferedBytes: Int { taken }
    /// How often a connection was paused for the budget.
    public var readPauses: Int { pauses.load(ordering: .relaxed) }

    public func snapshot() -> Snapshot {
        Snapshot(bufferedBytes: bufferedBytes, maxBufferedBytes: limit, readPauses: readPauses)
    }

    /// The open connections' own cost: at most a quarter of the budget.
    private var connectionsCost: Int {
        min(limit / 4, connections.load(ordering: .relaxed) &* connectionBytes)
    }

    /// What the decisions count: the bytes held, and the open connections' own cost.
    private var taken: Int {
        used.load(ordering: .sequentiallyConsistent) + connectionsCost
    }

    /// Whether a body of `bytes` fits beside `room` already taken. One within the budget is taken
    /// at the latest when nothing else is held, however many connections are open.
    private func bodyFits(_ bytes: Int, room: Int) -> Bool {
        room + bytes <= limit || room <= connectionsCost
    }

    /// Whether the next read of `ticket` may use a full-size buffer.
    func allowsFullReads(_ ticket: Ticket) -> Bool {
        taken <= partialLimit || ticket.finishing
    }

    /// Adds (or, negative, returns) what a holder holds, `partialDelta` of it unfinished lines; a return
    /// wakes waiters it makes room for.
    func account(_ delta: Int, partial partialDelta: Int = 0) {
        if partialDelta != 0 { partial.wrappingIncrement(by: partialDelta, ordering: .sequentiallyConsistent) }
        guard delta != 0 else { return }
        used.wrappingIncrement(by: delta, ordering: .sequentiallyConsistent)
        if delta < 0, waiting.load(ordering: .sequentiallyConsistent) > 0 {
            let wakes = state.withLockedValue { wake(&$0) }
            for body in wakes { body() }
        }
    }

    /// A connection opened: partial lines' share of the budget is divided among one more.
    func join(_ ticket: Ticket) {
        connections.wrappingIncrement(ordering: .relaxed)
    }

    /// What a connection's next burst may do: `reads` (0: pause) and `reserved`, bytes the budget has
    /// already counted on the connection's account for what that burst may add (as unfinished line).
    public struct Grant: Equatable, Sendable {
        public var reads: Int
        public var reserved: Int
    }

    /// Asked at the end of each read burst, once what the connection holds is accounted: may it
    /// read on? No (0 reads) puts it in line; `ticket`'s resume handler runs when there is room.
    /// `partialBytes`: its unfinished line (0: none); `completedLine`: a line ended in this burst,
    /// so a finisher has done its part and passes the slot on. Below `partialLimit`: `fullBurst` reads, nothing reserved. Past it, one
    /// read a burst (a finisher excepted), and what that read may add is taken from the budget at once:
    /// one small read, or, for an unfinished line, its buffer's size, since a read can double it. Every
    /// connection let go reads once before it can be asked again, so counting its read only once it
    /// landed let 1,000 connections let go together take a 16 MiB budget to 22.3 MB (`MemoryBoundTests`);
    /// reserved when granted, the grants themselves stop at the limit.
    func readsAllowed(_ ticket: Ticket, partialBytes: Int, completedLine: Bool) -> Grant {
        if taken <= partialLimit,
            waiting.load(ordering: .sequentiallyConsistent) == 0, !ticket.finishing
        {
            return Grant(reads: Self.fullBurst, reserved: 0)
        }
        let (grant, wakes) = state.withLockedValue { state -> (Grant, [@Sendable () -> Void]) in
            let grant = decide(ticket, partialBytes: partialBytes, completedLine: completedLine, &state)
            return (grant, wake(&state))
        }
        for body in wakes { body() }
        return grant
    }

    /// What the next read of a connection past `partialLimit` may add: a small read, or its unfinished
    /// line's buffer again (ByteBuffer grows by powers of two).
    static func readGrowth(partialBytes: Int) -> Int {
        max(smallRead, partialBytes)
    }

    private func decide(
        _ ticket: Ticket,
        partialBytes: Int,
        completedLine: Bool,
        _ state: inout State
    ) -> Grant {
        let holdsPartial = partialBytes > 0
        if ticket.finishing {
            if holdsPartial && !completedLine { return Grant(reads: Self.fullBurst, reserved: 0) }
            // Its line is complete: the slot passes to the next in line (in `wake`).
            ticket.isFinisher.store(false, ordering: .relaxed)
            state.finishers -= 1
        }
        let now = taken
        // What this read may add, beside what the finishers at work may still add (a line each, read
        // whatever the budget): counted in, grants stop at the limit. Without the finishers' part four
        // finishers took a 16 MiB budget to 21 MB in `MemoryBoundTests`.
        let growth = Self.readGrowth(partialBytes: partialBytes)
        let fits = now + growth + state.finishers * lineLimit <= limit
        if holdsPartial {
            if now <= partialLimit { return Grant(reads: Self.fullBurst, reserved: 0) }
            let share = partialLimit / max(1, connections.load(ordering: .relaxed))
            // Its next read may double its buffer, so all the connections still reading cannot take the
            // budget past `limit` by their share each; what it may add is reserved.
            if partialBytes * 2 <= share && fits { return reserve(growth) }
            let othersWait = state.waiters.contains {
                if case .connection(_, partial: true) = $0 { return true }
                return false
            }
            if mayFinish(state, now: now) && !othersWait {
                state.finishers += 1
                ticket.isFinisher.store(true, ordering: .relaxed)
                return Grant(reads: Self.fullBurst, reserved: 0)
            }
        } else if fits {
            return now <= partialLimit ? Grant(reads: Self.fullBurst, reserved: 0) : reserve(growth)
        }
        state.waiters.append(.connection(ticket, partial: holdsPartial))
        waiting.store(state.waiters.count, ordering: .sequentiallyConsistent)
        pauses.wrappingIncrement(ordering: .relaxed)
        return Grant(reads: 0, reserved: 0)
    }

    /// One read's growth taken on a connection's account, as unfinished line, until its burst settles.
    private func reserve(_ bytes: Int) -> Grant {
        partial.wrappingIncrement(by: bytes, ordering: .sequentiallyConsistent)
        used.wrappingIncrement(by: bytes, ordering: .sequentiallyConsistent)
        return Grant(reads: 1, reserved: bytes)
    }

    /// A connection has gone: what it held is returned, its place in line and any finisher slot freed.
    func leave(_ ticket: Ticket, held: Int, partial heldPartial: Int = 0) {
        ticket.forgetResume()
        connections.wrappingDecrement(ordering: .relaxed)
        partial.wrappingDecrement(by: heldPartial, ordering: .sequentiallyConsistent)
        used.wrappingDecrement(by: held, ordering: .sequentiallyConsistent)
        let wakes = state.withLockedValue { state -> [@Sendable () -> Void] in
            state.waiters.removeAll {
                if case .connection(let waiter, _) = $0 { return waiter === ticket }
                return false
            }
            waiting.store(state.waiters.count, ordering: .sequentiallyConsistent)
            if ticket.finishing {
                state.finishers -= 1
                ticket.isFinisher.store(false, ordering: .relaxed)
            }
            return wake(&state)
        }
        for body in wakes { body() }
    }

    /// Bodies waiting for room, for tests.
    var waitingCount: Int { state.withLockedValue { $0.waiters.count } }

    /// Takes `bytes` for a request body, waiting for room if need be; one larger than the whole
    /// budget is refused at once. The caller returns it with `release` once the body is committed.
    /// Cancelling the waiting task (its client went away) leaves the line at once, taking nothing,
    /// so a closed connection never holds a place that room would later be granted to.
    public func reserve(_ bytes: Int) async throws(ReserveError) -> Reservation {
        guard bytes <= limit else { throw .largerThanBudget(bytes: bytes, limit: limit) }
        let admitted = state.withLockedValue { state -> Bool in
            guard state.waiters.isEmpty, bodyFits(bytes, room: taken) else {
                return false
            }
            used.wrappingIncrement(by: bytes, ordering: .sequentiallyConsistent)
            return true
        }
        if !admitted {
            let id = state.withLockedValue { state -> UInt64 in
                state.nextBodyID &+= 1
                return state.nextBodyID
            }
            let granted = await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                    let wakes = state.withLockedValue { state -> [@Sendable () -> Void] in
                        // Checked under the lock `cancelBody` takes: a cancellation either comes first
                        // and is seen here, or finds the waiter in line.
                        if Task.isCancelled { return [{ continuation.resume(returning: false) }] }
                        state.waiters.append(.body(bytes, id: id, continuation))
                        waiting.store(state.waiters.count, ordering: .sequentiallyConsistent)
                        pauses.wrappingIncrement(ordering: .relaxed)
                        return wake(&state)
                    }
                    for body in wakes { body() }
                }
            } onCancel: {
                cancelBody(id)
            }
            guard granted else { throw .cancelled }
        }
        return Reservation(bytes: bytes)
    }

    /// Takes a cancelled body out of line; one already granted keeps its bytes for its caller to release.
    private func cancelBody(_ id: UInt64) {
        let wakes = state.withLockedValue { state -> [@Sendable () -> Void] in
            guard
                let index = state.waiters.firstIndex(where: {
                    if case .body(_, let waiter, _) = $0 { return waiter == id }
                    return false
                }), case .body(_, _, let continuation) = state.waiters[index]
            else { return [] }
            state.waiters.remove(at: index)
            waiting.store(state.waiters.count, ordering: .sequentiallyConsistent)
            // Those it kept waiting (partial lines behind it) may go now.
            return [{ continuation.resume(returning: false) }] + wake(&state)
        }
        for body in wakes { body() }
    }

    public func release(_ reservation: Reservation) {
        account(-reservation.bytes)
    }

    /// A new finisher needs room for a whole line beside those the finishers already at work may
    /// still take (each reads on until its line ends, whatever the budget), so finishing lines cannot
    /// take the budget past its limit. With none at work and nothing held but partial lines, one always
    /// may: finishing a line is then the only way memory comes back, and reads already under way when
    /// the budget filled (each may double its buffer) can leave partial lines alone over the limit,
    /// where waiting for room would wait forever (seen under load: 1,000 clients each stuck mid-line).
    /// That one line, at most `lineLimit`, is what the budget may be overrun by. While lines are in
    /// flight or replies unwritten, their commits bring room back and wake the waiters instead.
    private func mayFinish(_ state: State, now: Int) -> Bool {
        guard state.finishers < maxFinishers else { return false }
        if now + state.finishers * lineLimit <= limit { return true }
        return state.finishers == 0
            && used.load(ordering: .sequentiallyConsistent) <= partial.load(ordering: .sequentiallyConsistent)
    }

    /// Whom the room left lets go, in order of waiting: free finisher slots first (so partial lines
    /// always make progress), then each waiter whose next read (or body) fits.
    private func wake(_ state: inout State) -> [@Sendable () -> Void] {
        guard !state.waiters.isEmpty else { return [] }
        var wakes: [@Sendable () -> Void] = []
        while mayFinish(state, now: taken),
            let index = state.waiters.firstIndex(where: {
                if case .connection(_, partial: true) = $0 { return true }
                return false
            }), case .connection(let ticket, _) = state.waiters[index]
        {
            state.waiters.remove(at: index)
            state.finishers += 1
            ticket.isFinisher.store(true, ordering: .relaxed)
            wakes.append { ticket.resume() }
        }
        var room = taken
        var kept: [Waiter] = []
        for waiter in state.waiters {
            switch waiter {
            case .connection(let ticket, let partial):
                if room + Self.fullRead <= (partial ? partialLimit : limit) {
                    room += Self.fullRead
                    wakes.append { ticket.resume() }
                } else {
                    kept.append(waiter)
                }
            case .body(let bytes, _, let continuation):
                if bodyFits(bytes, room: room) {
                    room += bytes
                    used.wrappingIncrement(by: bytes, ordering: .sequentiallyConsistent)
                    wakes.append { continuation.resume(returning: true) }
                } else {
                    kept.append(waiter)
                }
            }
        }
        state.waiters = kept
        waiting.store(kept.count, ordering: .sequentiallyConsistent)
        return wakes
    }
}
