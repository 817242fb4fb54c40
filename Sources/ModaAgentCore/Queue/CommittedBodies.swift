/// The bodies of one commit's events, consecutive ids from `firstID`, as the connections prepared them
/// (`PreparedLines`, shared, not copied). Announced with the commit, so delivery can build a request from
/// memory while it keeps up with the queue instead of reading the rows back (`RecentBodies`).
public struct CommittedBodies: Sendable {
    /// Where one event's body is: which submission's lines, which event of them.
    private struct Place: Sendable {
        var source: UInt32
        var event: UInt32
    }

    public private(set) var firstID: Int64 = 0
    private var sources: [PreparedLines] = []
    private var places: [Place] = []
    /// What the lines held take, their unused room included: what keeping them costs.
    public private(set) var storageBytes = 0

    public init() {}

    public var count: Int { places.count }
    public var isEmpty: Bool { places.isEmpty }
    /// The id past the last event.
    public var endID: Int64 { firstID + Int64(places.count) }

    /// The events as delivery sorts them (id, size, conversation), as a scan of their rows would give them.
    public var scanned: [ScannedEvent] {
        places.indices.map { index in
            let place = places[index]
            let event = Int(place.event)
            return ScannedEvent(
                id: firstID + Int64(index),
                bytes: sources[Int(place.source)].bodySize(event),
                conversation: sources[Int(place.source)].conversation(event)
            )
        }
    }

    /// Starts a submission's events; returns its index for `append`.
    mutating func add(_ lines: PreparedLines) -> Int {
        sources.append(lines)
        storageBytes += lines.storageBytes
        return sources.count - 1
    }

    /// Event `event` of source `source` stored with id `id`, the next after the last appended.
    mutating func append(id: Int64, source: Int, event: Int) {
        if places.isEmpty { firstID = id }
        assert(id == endID, "a commit's ids are consecutive")
        places.append(Place(source: UInt32(source), event: UInt32(event)))
    }

    /// Calls `body` with the body and conversation key of the event with id `id` (within the commit).
    func withEvent<R>(_ id: Int64, _ body: (UnsafeRawBufferPointer, UInt64) -> R) -> R {
        let place = places[Int(id - firstID)]
        let event = Int(place.event)
        let conversation = sources[Int(place.source)].conversation(event)
        return sources[Int(place.source)].withBody(event) { body($0, conversation) }
    }
}
