import NIOConcurrencyHelpers
import NIOCore

/// One `modactl tail --follow` connection. Its buffer is bounded (`limit` bytes written but not
/// yet taken by the kernel): what does not fit is dropped and counted, and the tail is told the
/// count before its next record, so a slow or stopped tail never holds back ingest or delivery.
final class TailSubscriber: Sendable {
    let channel: any Channel
    let conversation: UInt64?
    let kinds: Set<TailRecord.Kind>
    private let state = NIOLockedValueBox<(pending: Int, missed: Int)>((0, 0))

    /// About 1,000 records of ~250 bytes, beside what the kernel's socket buffer holds. Every record a
    /// stalled tail's buffers take is one built for nothing (a preview is a parse of the event):
    /// with 1 MiB, a stalled tail cost a 200k-event run 9 % of its throughput (moda-bench `tail`).
    static let limit = 256 << 10

    init(channel: any Channel, conversation: UInt64?, kinds: Set<TailRecord.Kind>) {
        self.channel = channel
        self.conversation = conversation
        self.kinds = kinds
    }

    func wants(_ record: TailRecord) -> Bool {
        guard let kind = record.kind, kinds.contains(kind) else { return false }
        return record.concerns(conversation)
    }

    var hasRoom: Bool { state.withLockedValue { $0.pending < Self.limit } }

    func miss(_ count: Int) {
        state.withLockedValue { $0.missed += count }
    }

    /// `text`: `records` lines, each ending in "\n". Dropped and counted when the buffer is full.
    func send(_ text: String, records: Int) {
        let notice = state.withLockedValue { state -> String?? in
            guard state.pending < Self.limit else {
                state.missed += records
                return .none
            }
            let notice = state.missed > 0 ? TailRecord.missed(state.missed, at: Timestamp.now()) + "\n" : nil
            state.missed = 0
            state.pending += text.utf8.count + (notice?.utf8.count ?? 0)
            return .some(notice)
        }
        guard case .some(let missed) = notice else { return }
        write((missed ?? "") + text)
    }

    private func write(_ text: String) {
        let count = text.utf8.count
        let promise = channel.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in self.written(count) }
        channel.writeAndFlush(ByteBuffer(string: text), promise: promise)
    }

    /// Once the tail has taken everything, it learns at once what it missed, even if nothing new comes.
    private func written(_ count: Int) {
        let notice = state.withLockedValue { state -> String? in
            state.pending -= count
            guard state.pending == 0, state.missed > 0, channel.isActive else { return nil }
            let notice = TailRecord.missed(state.missed, at: Timestamp.now()) + "\n"
            state.missed = 0
            state.pending += notice.utf8.count
            return notice
        }
        if let notice { write(notice) }
    }
}
