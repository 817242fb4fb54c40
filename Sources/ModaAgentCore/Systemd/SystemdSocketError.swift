#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why a message to systemd (notify socket) or journald (native socket) could not be sent.
///
/// The daemon treats both as best effort and never stops over them; the text is for tests and for whoever debugs a
/// unit whose notifications or journal fields go missing.
public enum SystemdSocketError: Error, Equatable, CustomStringConvertible {
    /// `address` (named by `source`, e.g. `NOTIFY_SOCKET`) is neither an absolute path nor `@name`.
    case invalidAddress(String, source: String)
    /// `address` does not fit `sun_path` with its terminating NUL.
    case addressTooLong(String, source: String, limit: Int)
    /// A system call failed; `call` says which and on what.
    case systemCall(String, errno: CInt)
    /// The kernel took only part of a datagram.
    case incompleteSend(sent: Int, expected: Int)
    /// A journal field is not `NAME=value` with a non-empty name free of newlines, or there are no fields.
    case invalidJournalField(String)

    public var description: String {
        switch self {
        case .invalidAddress(let address, let source):
            return "\(source)=\(address) is not a socket address: it must be an absolute path or @name (abstract); "
                + "systemd sets it for the service, so check the unit and that it is not set by hand"
        case .addressTooLong(let address, let source, let limit):
            return "\(source)=\(address) is \(address.utf8.count) bytes, more than the \(limit) a Unix socket "
                + "address holds; use a shorter path"
        case .systemCall(let call, let code):
            return "\(call) failed: \(String(cString: strerror(code))) (errno \(code))"
        case .incompleteSend(let sent, let expected):
            return "the kernel sent \(sent) of \(expected) bytes of one datagram; the message was lost"
        case .invalidJournalField(let field):
            return "journal field \(field.debugDescription) is not NAME=value with a name free of newlines; "
                + "fields come from JournalLogHandler.fields(for:), which should never produce this"
        }
    }
}
