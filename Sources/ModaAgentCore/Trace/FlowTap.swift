import Atomics
import Dispatch
import NIOConcurrencyHelpers

/// What the daemon tells `modactl tail` (docs/tracing.md): the writer hands it each commit, delivery
/// each request delivered or refused, ingest each line rejected. With nobody following it keeps
/// only a few recent records (one lock per commit); records for followers are built on its own
/// queue, and only for a follower with room, so a stalled tail costs ingest and delivery nothing
/// but a counter.
public final class FlowTap: @unchecked Sendable {
    // @unchecked: `subscribers`, `recent` and `lastCommit` are touched only under `lock`; the
    // atomics are atomics; `inFlight` is Sendable.
    public let inFlight = InFlightBoard()
    private let queue = DispatchQueue(label: "moda-agent.tail")
    private let lock = NIOLock()
    private var subscribers: [TailSubscriber] = []
    private var recent: [TailRecord] = []
    private var lastCommit: (lines: PreparedLines, outcomes: [QueueWriter.Outcome], at: Double)?
    private let following = ManagedAtomic<Int>(0)
    /// Commits handed to `queue` and not yet turned into records.
    private let backlog = ManagedAtomic<Int>(0)

    static let recentLimit = 50
    /// Commits waiting for the tail's queue past which their records are dropped, not queued.
    static let backlogLimit = 64

    public init() {}

    public var isFollowed: Bool { following.load(ordering: .relaxed) > 0 }

    // MARK: - From the pipeline

    /// A group commit: each submission's lines and their outcomes.
    func committed(_ submissions: [(lines: PreparedLines, outcomes: [QueueWriter.Outcome])]) {
        let at = Timestamp.now()
        guard isFollowed else {
            if let last = submissions.last(where: { $0.outcomes.contains(where: \.isAccepted) }) {
                lock.withLock { lastCommit = (last.lines, last.outcomes, at) }
            }
            return
        }
        let followers = lock.withLock { subscribers.filter { $0.kinds.contains(.accepted) } }
        guard !followers.isEmpty else { return }
        // Every follower full (a stalled tail), or the tail's queue far behind: count, build nothing
        // and wake no thread. Waking the tail's queue once per commit was what a stalled tail cost.
        let anyRoom = followers.contains(where: \.hasRoom)
        if anyRoom, backlog.loadThenWrappingIncrement(ordering: .relaxed) < Self.backlogLimit {
            queue.async {
                self.backlog.wrappingDecrement(ordering: .relaxed)
                for submission in submissions { self.publishAccepted(submission.lines, submission.outcomes, at: at) }
            }
            return
        }
        if anyRoom { backlog.wrappingDecrement(ordering: .relaxed) }
        for follower in followers { follower.miss(Self.acceptedCount(submissions, of: follower.conversation)) }
    }

    func delivered(_ record: DeliveryRecord, deadLetterID: Int64?) {
        publish(.delivery(record, deadLetterID: deadLetterID))
    }

    public func rejected(source: String, error: String) {
        publish(.rejected(source: source, error: error, at: Timestamp.now()))
    }

    // MARK: - For the tail socket

    func subscribe(_ subscriber: TailSubscriber) {
        lock.withLock { subscribers.append(subscriber) }
        following.wrappingIncrement(ordering: .relaxed)
    }

    func unsubscribe(_ subscriber: TailSubscriber) {
        let removed = lock.withLock { () -> Bool in
            let before = subscribers.count
            subscribers.removeAll { $0 === subscriber }
            return subscribers.count < before
        }
        if removed { following.wrappingDecrement(ordering: .relaxed) }
    }

    /// The latest records, oldest first: what `modactl tail` without `--follow` shows.
    func recentRecords(conversation: UInt64?, kinds: Set<TailRecord.Kind>) -> [String] {
        let (kept, last) = lock.withLock { (recent, lastCommit) }
        var records = kept
        if let last, kinds.contains(.accepted) {
            var accepted: [TailRecord] = []
            for (line, outcome) in zip(0..<last.lines.lineCount, last.outcomes) {
                guard case .accepted(_, let firstID) = outcome else { continue }
                for (offset, event) in last.lines.events(ofLine: line).enumerated() {
                    accepted.append(.accepted(id: firstID + Int64(offset), event: last.lines.event(event), at: last.at))
                }
            }
            records += accepted.suffix(Self.recentLimit)
        }
        return records.filter { ($0.kind.map(kinds.contains) ?? false) && $0.concerns(conversation) }
            .sorted { $0.at < $1.at }
            .suffix(Self.recentLimit)
            .map { $0.line(for: conversation) }
    }

    // MARK: - On the tail's queue

    private func publish(_ record: TailRecord) {
        lock.withLock {
            recent.append(record)
            if recent.count > Self.recentLimit { recent.removeFirst(recent.count - Self.recentLimit) }
        }
        guard isFollowed else { return }
        let wanting = lock.withLock { subscribers.filter { $0.wants(record) } }
        guard wanting.contains(where: \.hasRoom) else {
            for subscriber in wanting { subscriber.miss(1) }
            return
        }
        queue.async {
            for subscriber in wanting {
                subscriber.send(record.line(for: subscriber.conversation) + "\n", records: 1)
            }
        }
    }

    /// The accepted events of a commit a follower of `conversation` (nil: all) would have been shown.
    private static func acceptedCount(
        _ submissions: [(lines: PreparedLines, outcomes: [QueueWriter.Outcome])],
        of conversation: UInt64?
    ) -> Int {
        var count = 0
        for submission in submissions {
            let lines = submission.lines
            for (line, outcome) in zip(0..<lines.lineCount, submission.outcomes) where outcome.isAccepted {
                let events = lines.events(ofLine: line)
                count += conversation.map { key in events.count { lines.conversation($0) == key } } ?? events.count
            }
        }
        return count
    }

    private func publishAccepted(_ lines: PreparedLines, _ outcomes: [QueueWriter.Outcome], at: Double) {
        let followers = lock.withLock { subscribers.filter { $0.kinds.contains(.accepted) } }
        guard !followers.isEmpty else { return }
        var texts = [String](repeating: "", count: followers.count)
        var counts = [Int](repeating: 0, count: followers.count)
        var room = followers.map(\.hasRoom)
        var missed = [Int](repeating: 0, count: followers.count)
        for (line, outcome) in zip(0..<lines.lineCount, outcomes) {
            guard case .accepted(_, let firstID) = outcome else { continue }
            for (offset, event) in lines.events(ofLine: line).enumerated() {
                var record: TailRecord?
                let conversation = lines.conversation(event)
                for (index, follower) in followers.enumerated()
                where follower.conversation == nil || follower.conversation == conversation {
                    guard room[index] else {
                        missed[index] += 1
                        continue
                    }
                    let built = record ?? .accepted(id: firstID + Int64(offset), event: lines.event(event), at: at)
                    record = built
                    texts[index] += built.line + "\n"
                    counts[index] += 1
                    if texts[index].utf8.count > 64 << 10 {
                        follower.send(texts[index], records: counts[index])
                        texts[index] = ""
                        counts[index] = 0
                        room[index] = follower.hasRoom
                    }
                }
            }
        }
        for (index, follower) in followers.enumerated() {
            if counts[index] > 0 { follower.send(texts[index], records: counts[index]) }
            if missed[index] > 0 { follower.miss(missed[index]) }
        }
    }
}

extension QueueWriter.Outcome {
    var isAccepted: Bool {
        if case .accepted = self { return true }
        return false
    }
}
