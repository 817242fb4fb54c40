/// Something that runs a database write in its turn with the other writers of the process.
public protocol WriteTurn: Sendable {
    func serialized<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T
}

extension QueueWriter: WriteTurn {}
