/// A fault of the SQLite queue, carrying SQLite's result code and message and, where one applies,
/// what the operator should do about it.
public enum QueueError: Error, Sendable, CustomStringConvertible {
    case sqlite(code: Int32, message: String, context: String)
    case locked(path: String, pid: Int32?)
    case cannotCreateDirectory(path: String, reason: String)
    /// The folder exists but belongs to someone else (a container volume); the text names the fix.
    case folderNotWritable(problem: String)
    case cannotOpen(path: String, reason: String)
    case newerSchema(path: String, found: Int, supported: Int)
    case damaged(path: String, reason: String)

    /// SQLITE_FULL, SQLITE_IOERR and friends: worth answering "retry later" rather than failing for good.
    public var isTransient: Bool {
        guard case .sqlite(let code, _, _) = self else { return false }
        let primary = code & 0xFF
        return primary == 13 /* FULL */ || primary == 10 /* IOERR */ || primary == 5 /* BUSY */
            || primary == 6 /* LOCKED */ || primary == 8 /* READONLY */ || primary == 14 /* CANTOPEN */
    }

    public var description: String {
        switch self {
        case .sqlite(let code, let message, let context):
            return "queue database error while \(context): \(message) (SQLite code \(code))"
        case .locked(let path, let pid):
            let holder = pid.map { "pid \($0)" } ?? "another process"
            return "the queue \(path) is in use by another moda-agent (\(holder)); stop it first, "
                + "or give this one its own queue.path"
        case .cannotCreateDirectory(let path, let reason):
            return "cannot create the queue folder \(path): \(reason); create it or fix its permissions"
        case .folderNotWritable(let problem):
            return problem
        case .cannotOpen(let path, let reason):
            return "cannot open the queue database \(path): \(reason); check queue.path and its permissions"
        case .newerSchema(let path, let found, let supported):
            return "the queue \(path) has schema version \(found), newer than this moda-agent supports "
                + "(\(supported)); run the newer moda-agent or move the file aside"
        case .damaged(let path, let reason):
            return "the queue database \(path) is damaged: \(reason); move it aside (the daemon will create "
                + "a new one) and keep the old file to recover events with sqlite3"
        }
    }
}
