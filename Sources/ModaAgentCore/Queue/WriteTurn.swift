/// How the flusher writes beside ingest: in the ingest writer's turns, never racing it for
/// SQLite's write lock.
public protocol WriteTurn: Sendable {
    /// Runs `body` between two group commits (for work that cannot be inside a transaction).
    func serialized<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T
    /// Runs `work` inside the next group commit, on the writer's own connection.
    func run(_ work: @escaping (QueueStore) throws(QueueError) -> Void) throws(QueueError)
}

extension QueueWriter: WriteTurn {}
