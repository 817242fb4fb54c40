/// The events of one or more lines ready for the queue (a read burst's, or one request's), their bodies
/// back to back in chunks. A line of one event used to cost two allocations of its own (the body and the
/// line's array), made on an event loop and freed on the writer's thread through the one malloc arena's
/// lock (`AllocatorTuning`): about 2 of the daemon's 8 mallocs per event end to end (a uprobe on malloc
/// over the 1M run). Chunks grow geometrically from the first body's size (a burst of one line takes
/// what its body needs, as before) and stay below the mmap threshold: one buffer per burst (up to
/// 256 KiB) was mapped and unmapped each time, 50k page faults a second.
public struct PreparedLines: Sendable {
    /// One event: where its body lies and its delivery lane's key (`ConversationKey`), worked out on
    /// the connection's thread so delivery never parses a stored body to sort it.
    struct Event: Sendable, Equatable {
        var chunk: Int
        var start: Int
        var end: Int
        var conversation: UInt64
    }

    /// The largest chunk made for smaller bodies: 60 KiB, under `AllocatorTuning`'s 128 KiB mmap
    /// threshold with room for the allocator's and the array's headers. A larger body gets a chunk of
    /// its own size.
    static let chunkBytes = 60 << 10

    private(set) var chunks: [[UInt8]] = []
    private(set) var events: [Event] = []
    /// Per line, the index in `events` just past its last event.
    private(set) var lineEnds: [Int] = []
    /// Bytes the last chunk can still take without growing, and what it was made to hold.
    private var lastChunkRoom = 0
    private var lastChunkCapacity = 0

    public init() {}

    /// Lines made of events prepared one by one (tests, `modactl`), in order.
    public init(_ lines: [[PreparedEvent]]) {
        for line in lines {
            for event in line {
                appendEvent(size: event.body.count, conversation: event.conversation) {
                    $0.append(contentsOf: event.body)
                }
            }
            endLine()
        }
    }

    public var lineCount: Int { lineEnds.count }
    public var eventCount: Int { events.count }
    public var isEmpty: Bool { lineEnds.isEmpty }

    /// Indices of the events of line `line`.
    public func events(ofLine line: Int) -> Range<Int> {
        (line == 0 ? 0 : lineEnds[line - 1])..<lineEnds[line]
    }

    /// Bytes of the bodies of the events `range`.
    public func bodyBytes(of range: Range<Int>) -> Int {
        range.reduce(0) { $0 + bodySize($1) }
    }

    public func bodySize(_ event: Int) -> Int { events[event].end - events[event].start }

    public func conversation(_ event: Int) -> UInt64 { events[event].conversation }

    /// Every event's body at once, for binding many rows to one statement.
    struct Bodies {
        fileprivate let bases: [UnsafeRawBufferPointer]
        fileprivate let events: [Event]

        subscript(event: Int) -> UnsafeRawBufferPointer {
            let slot = events[event]
            return UnsafeRawBufferPointer(rebasing: bases[slot.chunk][slot.start..<slot.end])
        }
    }

    /// Calls `body` with every event's body reachable, all valid until it returns (each chunk's
    /// `withUnsafeBytes` nested around the call: a chunk of a burst is at most 60 KiB, so a burst
    /// nests a few of them, a large request body a few hundred).
    func withBodies<R, E: Error>(_ body: (Bodies) throws(E) -> R) throws(E) -> R {
        var bases: [UnsafeRawBufferPointer] = []
        bases.reserveCapacity(chunks.count)
        return try Self.nest(chunks[...], &bases) { (bases) throws(E) -> R in
            try body(Bodies(bases: bases, events: events))
        }
    }

    private static func nest<R, E: Error>(
        _ chunks: ArraySlice<[UInt8]>,
        _ bases: inout [UnsafeRawBufferPointer],
        _ body: ([UnsafeRawBufferPointer]) throws(E) -> R
    ) throws(E) -> R {
        guard let first = chunks.first else { return try body(bases) }
        let rest = chunks.dropFirst()
        let result: Swift.Result<R, E> = first.withUnsafeBytes { bytes in
            bases.append(bytes)
            do throws(E) {
                return .success(try nest(rest, &bases, body))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Calls `body` with event `event`'s body (delivery's requests from memory, `CommittedBodies`).
    func withBody<R>(_ event: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let slot = events[event]
        return chunks[slot.chunk].withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[slot.start..<slot.end])) }
    }

    /// What the chunks take in memory, their unused room included.
    var storageBytes: Int { chunks.reduce(0) { $0 + $1.capacity } }

    /// Event `event` as a value of its own (a copy of its body), for the tail and tests.
    public func event(_ event: Int) -> PreparedEvent {
        let slot = events[event]
        return PreparedEvent(body: Array(chunks[slot.chunk][slot.start..<slot.end]), conversation: slot.conversation)
    }

    /// Every line's events as values of their own.
    public var lines: [[PreparedEvent]] {
        (0..<lineCount).map { line in events(ofLine: line).map { event($0) } }
    }

    // MARK: - Building

    /// Appends one event's body of `size` bytes, which `write` appends to the chunk it is given.
    /// `conversation` nil: worked out from the body.
    mutating func appendEvent(size: Int, conversation: UInt64? = nil, _ write: (inout [UInt8]) -> Void) {
        if chunks.isEmpty || lastChunkRoom < size {
            // Twice the last chunk: slack stays below what is held, so what a connection's budget
            // counts (its lines' bytes) still bounds it.
            var chunk: [UInt8] = []
            chunk.reserveCapacity(max(size, min(Self.chunkBytes, 2 * lastChunkCapacity)))
            lastChunkCapacity = chunk.capacity
            lastChunkRoom = chunk.capacity
            chunks.append(chunk)
        }
        let index = chunks.count - 1
        var start = 0
        var end = 0
        var key = conversation ?? 0
        // One in-place access to the chunk: reading it through the outer array's getter would retain it.
        // The body's place is what `write` wrote, not what was announced: a size worked out wrong costs
        // a chunk's growth, never a body cut short or run into the next.
        Self.modify(&chunks[index]) { chunk in
            start = chunk.count
            write(&chunk)
            end = chunk.count
            assert(end - start == size, "an event's body is the size it was announced as")
            if conversation == nil {
                key = chunk.withUnsafeBytes { ConversationKey.of(event: UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
            }
        }
        lastChunkRoom -= end - start
        events.append(Event(chunk: index, start: start, end: end, conversation: key))
    }

    private static func modify(_ chunk: inout [UInt8], _ body: (inout [UInt8]) -> Void) { body(&chunk) }

    /// Ends the line whose events were appended since the last call.
    mutating func endLine() {
        lineEnds.append(events.count)
    }

    /// Drops what was appended since the last `endLine` (a line refused after some of its bodies were built).
    mutating func dropUnfinishedLine() {
        let kept = lineEnds.last ?? 0
        guard kept < events.count else { return }
        let first = events[kept]
        events.removeSubrange(kept...)
        chunks.removeSubrange((first.chunk + 1)...)
        chunks[first.chunk].removeSubrange(first.start...)
        lastChunkRoom = chunks[first.chunk].capacity - first.start
    }

    /// Takes everything out and leaves no storage behind: the taker hands it to the writer's thread.
    mutating func take() -> PreparedLines {
        let taken = self
        self = PreparedLines()
        return taken
    }
}
