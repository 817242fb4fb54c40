/// One delivered or refused request as the delivery log keeps it (docs/tracing.md): when, the
/// HTTP status, Moda's `requestId`, how long the request took, and its events by conversation,
/// so `modactl trace` can answer for one id or one conversation long after the events left the queue.
public struct DeliveryRecord: Sendable, Equatable {
    /// The ids of one conversation in the request, ascending.
    public struct Group: Sendable, Equatable {
        public var conversation: UInt64
        public var ids: [Int64]

        public init(conversation: UInt64, ids: [Int64]) {
            self.conversation = conversation
            self.ids = ids
        }
    }

    /// Wall-clock seconds since 1970 when the removal was handed to the queue.
    public var at: Double
    public var status: Int
    public var requestId: String?
    /// Seconds from sending the request to its response's last byte.
    public var latency: Double?
    /// A refusal's reason (the API's `message`); nil for a delivery.
    public var message: String?
    public let groups: [Group]
    /// The rows of `delivery_log_ids` and what the record takes, worked out once, where the record is
    /// made (delivery's queue), not on the queue's writer.
    let pieces: [Piece]
    let storedBytes: Int64

    public init(
        at: Double,
        status: Int,
        requestId: String?,
        latency: Double?,
        message: String? = nil,
        groups: [Group]
    ) {
        self.at = at
        self.status = status
        self.requestId = requestId
        self.latency = latency
        self.message = message
        self.groups = groups
        pieces = Self.pieces(of: groups)
        storedBytes = Self.storedBytes(requestId: requestId, message: message, pieces: pieces)
    }

    /// Groups the ids of a request by conversation (`conversations[i]` is the key of `ids[i]`).
    public static func groups(ids: [Int64], conversations: [UInt64]) -> [Group] {
        var order: [UInt64] = []
        var byConversation: [UInt64: [Int64]] = [:]
        for (id, conversation) in zip(ids, conversations) {
            if byConversation[conversation] == nil { order.append(conversation) }
            byConversation[conversation, default: []].append(id)
        }
        return order.map { Group(conversation: $0, ids: byConversation[$0] ?? []) }
    }

    /// The rows of `delivery_log_ids`: each group cut into pieces spanning at most `maxSpan` ids,
    /// so a lookup by id reads only the pieces starting at most `maxSpan` before it.
    private static func pieces(of groups: [Group]) -> [Piece] {
        var pieces: [Piece] = []
        for group in groups {
            var start = 0
            while start < group.ids.count {
                let first = group.ids[start]
                var end = start
                while end + 1 < group.ids.count, group.ids[end + 1] - first <= Self.maxSpan { end += 1 }
                let ids = group.ids[start...end]
                pieces.append(
                    Piece(
                        conversation: group.conversation,
                        first: first,
                        last: ids.last ?? first,
                        runs: IDRunsCoding.encode(ids)
                    )
                )
                start = end + 1
            }
        }
        return pieces
    }

    struct Piece: Equatable {
        var conversation: UInt64
        var first: Int64
        var last: Int64
        /// nil when the piece is every id from `first` to `last`.
        var runs: [UInt8]?
    }

    /// What the record takes in the database, rows and index entries, counted against
    /// `trace.maxBytes`. An estimate on the generous side (measured against SQLite's dbstat in
    /// docs/tracing.md), so the log stays within the bound.
    private static func storedBytes(requestId: String?, message: String?, pieces: [Piece]) -> Int64 {
        var bytes = 64 + (requestId?.utf8.count ?? 0) + (message?.utf8.count ?? 0)
        for piece in pieces { bytes += 96 + (piece.runs?.count ?? 0) * 5 / 4 }
        return Int64(bytes)
    }

    /// The widest span of ids one `delivery_log_ids` row covers.
    static let maxSpan: Int64 = 8192
}

/// Ascending ids as a compact blob: alternating gap and run length, LEB128 varints, the first gap
/// counted from the piece's first id. A lane's batch interleaves with other lanes' ids, so runs
/// are short; a varint pair per run keeps a typical delivered event to a byte or two.
enum IDRunsCoding {
    static func encode<C: BidirectionalCollection<Int64>>(_ ids: C) -> [UInt8]? {
        guard let first = ids.first, let last = ids.last else { return nil }
        if last - first + 1 == Int64(ids.count) { return nil }
        var bytes: [UInt8] = []
        var previousEnd = first  // one past the last id of the previous run
        var runs = IDRuns(Array(ids))
        while let run = runs.next() {
            Varint.append(UInt64(run.lowerBound - previousEnd), to: &bytes)
            Varint.append(UInt64(run.upperBound - run.lowerBound + 1), to: &bytes)
            previousEnd = run.upperBound + 1
        }
        return bytes
    }

    /// The runs of a piece; nil blob: the one run `first...last`. A damaged blob yields the runs it could read.
    static func decode(first: Int64, last: Int64, runs blob: [UInt8]?) -> [ClosedRange<Int64>] {
        guard let blob else { return first <= last ? [first...last] : [] }
        var result: [ClosedRange<Int64>] = []
        var index = 0
        var position = first
        while index < blob.count {
            guard let gap = Varint.read(blob, &index), let length = Varint.read(blob, &index), length > 0 else { break }
            let start = position + Int64(truncatingIfNeeded: gap)
            let end = start + Int64(truncatingIfNeeded: length) - 1
            guard start <= end, end <= last else { break }
            result.append(start...end)
            position = end + 1
        }
        return result
    }
}
