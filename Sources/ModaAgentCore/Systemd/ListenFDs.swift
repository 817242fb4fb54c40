#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The descriptors systemd passed for socket activation, as sd_listen_fds(3) and sd_listen_fds_with_names(3) read
/// them with `unset_environment` set: `LISTEN_PID` must name this process, `LISTEN_FDS` descriptors start at 3, and
/// `LISTEN_FDNAMES` names them (colon-separated).
///
/// The variables are unset on every path, success or not, so that child processes never adopt the descriptors
/// too; `LISTEN_PIDFDID`, which newer managers add beside `LISTEN_PID`, goes with them.
enum ListenFDs {
    /// `SD_LISTEN_FDS_START`.
    static let start: CInt = 3

    /// How many descriptors were passed, from `firstFD` on (tests pass their own range; fd 3 belongs to someone
    /// else in a test runner). 0 when not socket-activated or when the variables are meant for another process
    /// (inherited from a socket-activated parent). Each passed descriptor is made close-on-exec.
    static func count(firstFD: CInt = start) throws(SocketActivationError) -> Int {
        defer { self.unsetVariables() }
        guard let pidText = SystemdEnvironment.value("LISTEN_PID") else { return 0 }
        guard let pid = SystemdEnvironment.processID(pidText) else { throw .listenFDsFailed(errno: EINVAL) }
        guard pid == getpid() else { return 0 }
        guard let countText = SystemdEnvironment.value("LISTEN_FDS") else { return 0 }
        guard let count = CInt(countText), count > 0, count <= CInt.max - firstFD else {
            throw .listenFDsFailed(errno: EINVAL)
        }
        for fd in firstFD..<firstFD + count {
            let flags = fcntl(fd, F_GETFD)
            guard flags >= 0 else { throw .listenFDsFailed(errno: errno) }
            guard flags & FD_CLOEXEC != 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0 else {
                throw .listenFDsFailed(errno: errno)
            }
        }
        return Int(count)
    }

    /// One name per passed descriptor (empty when none were passed). Without `LISTEN_FDNAMES` every descriptor
    /// is called `unknown`; a list whose length differs from `LISTEN_FDS` is an error (`EINVAL`), as in libsystemd.
    static func names(firstFD: CInt = start) throws(SocketActivationError) -> [String] {
        // Read before count(firstFD:) unsets it. Empty names survive ("a::b" is three), as systemd writes them.
        let listed = SystemdEnvironment.value("LISTEN_FDNAMES").map {
            $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        }
        let count = try self.count(firstFD: firstFD)
        guard count > 0 else { return [] }
        guard let listed else { return Array(repeating: "unknown", count: count) }
        guard listed.count == count else { throw .listenFDsFailed(errno: EINVAL) }
        return listed
    }

    private static func unsetVariables() {
        for name in ["LISTEN_PID", "LISTEN_PIDFDID", "LISTEN_FDS", "LISTEN_FDNAMES"] { unsetenv(name) }
    }
}
