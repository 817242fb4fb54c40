#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Adopts the sockets that systemd created and passed in (`LISTEN_FDS`, see ``ListenFDs``): the ingest socket of
/// `moda-agent.socket`, and the HTTP receivers' socket of a second socket unit with `FileDescriptorName=http`
/// (SPEC 10).
///
/// Under socket activation systemd owns the socket file: its path, mode and group come from the socket unit, and
/// the daemon must neither bind, chmod nor unlink it (the unit keeps listening while the daemon restarts).
public enum SocketActivation {
    /// The passed listening sockets; both nil when the daemon was not socket-activated.
    public struct Sockets: Sendable, Equatable {
        public var ingest: CInt?
        public var http: CInt?
    }

    /// The passed ingest socket, or `nil` when the daemon was not socket-activated.
    ///
    /// `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES` are unset so that child processes do not try to adopt the
    /// descriptor too; call this (or `listeningSockets`) once, early. The descriptor is close-on-exec and owned by
    /// the caller.
    public static func listeningUnixStreamSocket() throws(SocketActivationError) -> CInt? {
        // No sockets when LISTEN_PID names another process: the variables were inherited from a socket-activated
        // parent and are not meant for us.
        try self.adopt(count: CInt(ListenFDs.count()), firstFD: ListenFDs.start)
    }

    /// The passed sockets by name: the one named `http` is the HTTP receivers', any other the ingest socket.
    public static func listeningSockets() throws(SocketActivationError) -> Sockets {
        let names = try ListenFDs.names()
        return try adopt(count: CInt(names.count), firstFD: ListenFDs.start, names: names)
    }

    /// Checks what ListenFDs reported; separate from the environment so tests can hand in their own sockets.
    static func adopt(count: CInt, firstFD: CInt) throws(SocketActivationError) -> CInt? {
        try adopt(count: count, firstFD: firstFD, names: []).ingest
    }

    static func adopt(count: CInt, firstFD: CInt, names: [String]) throws(SocketActivationError) -> Sockets {
        if count < 0 {
            throw .listenFDsFailed(errno: -count)
        }
        var ingest: [CInt] = []
        var http: [CInt] = []
        for index in 0..<Int(count) {
            let fd = firstFD + CInt(index)
            if index < names.count, names[index] == "http" { http.append(fd) } else { ingest.append(fd) }
        }
        if ingest.count > 1 || http.count > 1 {
            throw .unexpectedSocketCount(Int(count))
        }
        var sockets = Sockets()
        if let fd = ingest.first {
            // listening = 1 also rules out an Accept=yes socket unit, whose per-connection sockets are not listening.
            guard try SocketInspection.isUnixSocket(fd, type: CInt(SOCK_STREAM.rawValue), listening: true) else {
                throw .notAListeningUnixStreamSocket(fd: fd)
            }
            sockets.ingest = fd
        }
        if let fd = http.first {
            // TCP (IPv4 or IPv6) or a Unix socket, as http.listen allows.
            guard try SocketInspection.isSocket(fd, type: CInt(SOCK_STREAM.rawValue), listening: true) else {
                throw .notAListeningHTTPSocket(fd: fd)
            }
            sockets.http = fd
        }
        return sockets
    }
}
