import CSystemd

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Adopts the sockets that systemd created and passed in (`LISTEN_FDS`, sd_listen_fds(3)): the ingest socket of
/// `moda-agent.socket`, and the HTTP receivers' socket of a second socket unit with `FileDescriptorName=http`
/// (docs/protocol.md).
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
        // sd_listen_fds ignores the variables (returns 0) when LISTEN_PID names another process: they were
        // inherited from a socket-activated parent and are not meant for us.
        try self.adopt(count: moda_sd_listen_fds(1), firstFD: SD_LISTEN_FDS_START)
    }

    /// The passed sockets by name: the one named `http` is the HTTP receivers', any other the ingest socket.
    public static func listeningSockets() throws(SocketActivationError) -> Sockets {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = moda_sd_listen_fds_with_names(1, &names)
        var named: [String] = []
        if let names {
            for index in 0..<Int(max(0, count)) {
                named.append(names[index].map { String(cString: $0) } ?? "")
                free(names[index])
            }
            free(names)
        }
        return try adopt(count: count, firstFD: SD_LISTEN_FDS_START, names: named)
    }

    /// Checks what sd_listen_fds reported; separate from the environment so tests can hand in their own sockets.
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
            let isUnixStream = moda_sd_is_socket_unix(fd, CInt(SOCK_STREAM.rawValue), 1, nil, 0)
            if isUnixStream < 0 {
                throw .inspectionFailed(fd: fd, errno: -isUnixStream)
            }
            if isUnixStream == 0 {
                throw .notAListeningUnixStreamSocket(fd: fd)
            }
            sockets.ingest = fd
        }
        if let fd = http.first {
            // TCP (IPv4 or IPv6) or a Unix socket, as http.listen allows.
            let isStream = moda_sd_is_socket(fd, AF_UNSPEC, CInt(SOCK_STREAM.rawValue), 1)
            if isStream < 0 {
                throw .inspectionFailed(fd: fd, errno: -isStream)
            }
            if isStream == 0 {
                throw .notAListeningHTTPSocket(fd: fd)
            }
            sockets.http = fd
        }
        return sockets
    }
}
