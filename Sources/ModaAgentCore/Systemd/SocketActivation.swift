import CSystemd

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Adopts the ingest socket that `moda-agent.socket` created and passed in (`LISTEN_FDS`, sd_listen_fds(3)).
///
/// Under socket activation systemd owns the socket file: its path, mode and group come from the socket unit, and
/// the daemon must neither bind, chmod nor unlink it (the unit keeps listening while the daemon restarts).
public enum SocketActivation {
    /// The passed listening socket, or `nil` when the daemon was not socket-activated.
    ///
    /// `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES` are unset so that child processes do not try to adopt the
    /// descriptor too; call this once, early. The descriptor is close-on-exec and owned by the caller.
    public static func listeningUnixStreamSocket() throws(SocketActivationError) -> CInt? {
        // sd_listen_fds ignores the variables (returns 0) when LISTEN_PID names another process: they were
        // inherited from a socket-activated parent and are not meant for us.
        try self.adopt(count: sd_listen_fds(1), firstFD: SD_LISTEN_FDS_START)
    }

    /// Checks what sd_listen_fds reported; separate from the environment so tests can hand in their own sockets.
    static func adopt(count: CInt, firstFD: CInt) throws(SocketActivationError) -> CInt? {
        if count < 0 {
            throw .listenFDsFailed(errno: -count)
        }
        if count == 0 {
            return nil
        }
        if count > 1 {
            throw .unexpectedSocketCount(Int(count))
        }
        // listening = 1 also rules out an Accept=yes socket unit, whose per-connection sockets are not listening.
        let isUnixStream = sd_is_socket_unix(firstFD, CInt(SOCK_STREAM.rawValue), 1, nil, 0)
        if isUnixStream < 0 {
            throw .inspectionFailed(fd: firstFD, errno: -isUnixStream)
        }
        if isUnixStream == 0 {
            throw .notAListeningUnixStreamSocket(fd: firstFD)
        }
        return firstFD
    }
}
