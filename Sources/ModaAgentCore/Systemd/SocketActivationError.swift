#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why the socket systemd passed (`LISTEN_FDS`) cannot be used as the ingest socket.
///
/// Each case's text says what is wrong and what to change, since the usual cause is an edited socket unit.
public enum SocketActivationError: Error, Equatable, CustomStringConvertible {
    /// `sd_listen_fds` failed (e.g. `LISTEN_FDS` is malformed or a passed descriptor is closed).
    case listenFDsFailed(errno: CInt)
    /// More than one descriptor was passed; moda-agent serves exactly one ingest socket.
    case unexpectedSocketCount(Int)
    /// The descriptor is not a listening `AF_UNIX` `SOCK_STREAM` socket (e.g. `ListenDatagram=` or a TCP port).
    case notAListeningUnixStreamSocket(fd: CInt)
    /// The socket named `http` is not a listening stream socket (TCP or Unix).
    case notAListeningHTTPSocket(fd: CInt)
    /// The descriptor could not be inspected at all.
    case inspectionFailed(fd: CInt, errno: CInt)

    public var description: String {
        switch self {
        case .listenFDsFailed(let code) where code == ELIBACC:
            return "socket activation: systemd passed sockets (LISTEN_FDS) but libsystemd.so.0 cannot be loaded; "
                + "install libsystemd0 (the moda-agent package depends on it)"
        case .listenFDsFailed(let code):
            return "socket activation: cannot take the sockets systemd passed (LISTEN_FDS): "
                + "\(Self.text(code)); check moda-agent.socket and that LISTEN_FDS/LISTEN_PID "
                + "are not set by hand"
        case .unexpectedSocketCount(let count):
            return "socket activation: systemd passed \(count) sockets, moda-agent expects one ingest socket and at "
                + "most one named http; check ListenStream= in moda-agent.socket (a single "
                + "ListenStream=/run/moda-agent/ingest.sock and no other Listen*= lines) and FileDescriptorName=http "
                + "in the HTTP receivers' socket unit"
        case .notAListeningUnixStreamSocket(let fd):
            return "socket activation: fd \(fd) is not a listening Unix stream socket; "
                + "check ListenStream= in moda-agent.socket (it must be a path such as /run/moda-agent/ingest.sock, "
                + "not a port, ListenDatagram= or ListenSequentialPacket=, and Accept=no)"
        case .notAListeningHTTPSocket(let fd):
            return "socket activation: fd \(fd), named http, is not a listening stream socket; check ListenStream= "
                + "in moda-agent-http.socket (an address such as 127.0.0.1:4318 or a path, with Accept=no)"
        case .inspectionFailed(let fd, let code):
            return "socket activation: cannot inspect fd \(fd): \(Self.text(code)); "
                + "check ListenStream= in moda-agent.socket"
        }
    }

    private static func text(_ code: CInt) -> String {
        // strerror returns static text for known codes on glibc/musl; the daemon reports this once at startup.
        String(cString: strerror(code)) + " (errno \(code))"
    }
}
