#if canImport(Glibc)
import Glibc
#endif

/// Why a `BlockingSocket` call failed: the call and the reason `errno` gave, or a path too long
/// for a Unix socket.
public struct SocketError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }

    /// A failed system call, with the reason `errno` gives.
    public static func system(_ what: String) -> SocketError {
        SocketError("\(what): \(String(cString: strerror(errno)))")
    }
}
