import NIOCore

/// The bodies of the commits delivery took while it kept up with the queue (`CommittedBodies`), so
/// a batch of them is written into its request from memory rather than read back from SQLite, which
/// reads the pages just committed back out of the WAL. A batch with any id not held here (another
/// process's row, a commit not taken, one evicted) is read from the queue as before. A value the
/// driver keeps on its queue.
struct RecentBodies {
    /// What the kept lines may take: a little more than the window of events delivery sorts ahead
    /// with the default settings (1,000 events a batch, 8 in flight, `DeliveryStateMachine.window`),
    /// at a few hundred bytes an event. A commit that would go past it is not kept.
    static let limitBytes = 8 << 20

    private var commits: [CommittedBodies] = []
    private(set) var storageBytes = 0

    var isEmpty: Bool { commits.isEmpty }

    /// Keeps a commit's bodies if they continue the last kept and there is room.
    mutating func keep(_ bodies: CommittedBodies) {
        guard !bodies.isEmpty, storageBytes + bodies.storageBytes <= Self.limitBytes else { return }
        if let last = commits.last, bodies.firstID < last.endID { return }
        commits.append(bodies)
        storageBytes += bodies.storageBytes
    }

    /// Forgets the commits with ids above `id`: delivery did not take them, a scan will read them.
    mutating func forget(after id: Int64) {
        while let last = commits.last, last.endID - 1 > id {
            storageBytes -= last.storageBytes
            commits.removeLast()
        }
    }

    /// Forgets the commits whose every id is `id` or below: delivered, dead-lettered or dropped.
    mutating func forget(through id: Int64) {
        let gone = commits.prefix { $0.endID - 1 <= id }.count
        guard gone > 0 else { return }
        storageBytes -= commits.prefix(gone).reduce(0) { $0 + $1.storageBytes }
        commits.removeFirst(gone)
    }

    /// Delivery waits (a retry, a pause) or idles: the memory goes back.
    mutating func removeAll() {
        commits.removeAll()
        storageBytes = 0
    }

    /// The request body of `ids` (ascending) written from the kept bodies into `spare`, as
    /// `QueueStore.requestBody` writes it from the rows; nil, `spare` untouched, unless every id is
    /// kept and above `droppedThrough`.
    func requestBody(ids: [Int64], droppedThrough: Int64, spare: inout ByteBuffer) -> QueueStore.RequestRows? {
        guard let first = ids.first, first > droppedThrough, holds(ids) else { return nil }
        // The spare's only reference moves here, so clearing it keeps its storage (`SpareBodies`).
        var body = ByteBuffer()
        swap(&body, &spare)
        body.clear()
        body.reserveCapacity(QueueStore.bodyCapacity(ids.count))
        body.writeStaticString("{\"events\":[")
        var conversations: [UInt64] = []
        conversations.reserveCapacity(ids.count)
        var index = 0
        for id in ids {
            if !conversations.isEmpty { body.writeInteger(UInt8(ascii: ",")) }
            while commits[index].endID <= id { index += 1 }
            commits[index].withEvent(id) { bytes, conversation in
                body.writeBytes(bytes)
                conversations.append(conversation)
            }
        }
        body.writeStaticString("]}")
        return QueueStore.RequestRows(body: body, ids: ids, conversations: conversations)
    }

    /// Whether every id (ascending) is in a kept commit.
    private func holds(_ ids: [Int64]) -> Bool {
        var index = 0
        for id in ids {
            while index < commits.count, commits[index].endID <= id { index += 1 }
            guard index < commits.count, id >= commits[index].firstID else { return false }
        }
        return true
    }
}
