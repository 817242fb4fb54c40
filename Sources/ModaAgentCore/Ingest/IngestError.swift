/// Faults of the ingest socket that stop the daemon from starting.
public enum IngestError: Error, Sendable, CustomStringConvertible {
    case socketInUse(path: String)
    case cannotBind(path: String, reason: String)
    case cannotSetMode(path: String, mode: String, reason: String)
    /// The socket's folder exists but belongs to someone else (a container volume); the text names the fix.
    case folderNotWritable(problem: String)

    public var description: String {
        switch self {
        case .socketInUse(let path):
            return "another moda-agent answers on \(path); stop it first, or give this one its own socket.path"
        case .cannotBind(let path, let reason):
            return "cannot listen on \(path): \(reason); check socket.path and that its folder exists and is writable"
        case .cannotSetMode(let path, let mode, let reason):
            return "cannot set permissions \(mode) on \(path): \(reason); check socket.mode"
        case .folderNotWritable(let problem):
            return problem
        }
    }
}
