#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What kind of socket a passed descriptor is (sd_is_socket(3), sd_is_socket_unix(3)): the checks that catch a
/// socket unit edited into something the daemon cannot serve.
enum SocketInspection {
    /// Whether `fd` is a socket of `type` (0: any), of `family` (`AF_UNSPEC`: any) and, unless `listening` is nil,
    /// listening or not. Throws only when the descriptor cannot be inspected at all (e.g. it is closed).
    static func isSocket(
        _ fd: CInt,
        family: CInt = AF_UNSPEC,
        type: CInt,
        listening: Bool?
    ) throws(SocketActivationError) -> Bool {
        guard try self.matches(fd, type: type, listening: listening) else { return false }
        guard family != AF_UNSPEC else { return true }
        return try self.localAddress(of: fd).address.sun_family == sa_family_t(family)
    }

    /// Whether `fd` is an `AF_UNIX` socket of `type` (0: any), listening or not (nil: either), and, given a `path`,
    /// bound to it: an absolute path, `@name` for the abstract namespace, or "" for an unnamed socket.
    static func isUnixSocket(
        _ fd: CInt,
        type: CInt,
        listening: Bool?,
        path: String? = nil
    ) throws(SocketActivationError) -> Bool {
        guard try self.matches(fd, type: type, listening: listening) else { return false }
        let (address, length) = try self.localAddress(of: fd)
        guard address.sun_family == sa_family_t(AF_UNIX) else { return false }
        guard let path else { return true }
        let header = MemoryLayout<sa_family_t>.size
        var expected = Array(path.utf8)
        if expected.first == UInt8(ascii: "@") {
            // Abstract: a leading NUL, then exactly the name (the length tells where it ends).
            expected[0] = 0
            guard Int(length) == header + expected.count else { return false }
        } else if !expected.isEmpty {
            // A path: the bytes and their terminating NUL.
            expected.append(0)
            guard Int(length) >= header + expected.count else { return false }
        } else {
            return Int(length) == header
        }
        return withUnsafeBytes(of: address.sun_path) { Array($0.prefix(expected.count)) == expected }
    }

    /// fstat says socket, then `SO_TYPE` and `SO_ACCEPTCONN` as asked.
    private static func matches(_ fd: CInt, type: CInt, listening: Bool?) throws(SocketActivationError) -> Bool {
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .inspectionFailed(fd: fd, errno: errno) }
        guard status.st_mode & S_IFMT == S_IFSOCK else { return false }
        if type != 0, try self.intOption(SO_TYPE, of: fd) != type { return false }
        if let listening, try (self.intOption(SO_ACCEPTCONN, of: fd) != 0) != listening { return false }
        return true
    }

    private static func intOption(_ option: CInt, of fd: CInt) throws(SocketActivationError) -> CInt {
        var value: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        guard getsockopt(fd, SOL_SOCKET, option, &value, &length) == 0 else {
            throw .inspectionFailed(fd: fd, errno: errno)
        }
        guard length == socklen_t(MemoryLayout<CInt>.size) else { throw .inspectionFailed(fd: fd, errno: EINVAL) }
        return value
    }

    /// getsockname into a `sockaddr_un`, which is large enough to read the family of any socket and the whole
    /// address of a Unix one.
    private static func localAddress(
        of fd: CInt
    ) throws(SocketActivationError) -> (address: sockaddr_un, length: socklen_t) {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0 else { throw .inspectionFailed(fd: fd, errno: errno) }
        guard Int(length) >= MemoryLayout<sa_family_t>.size else { throw .inspectionFailed(fd: fd, errno: EINVAL) }
        return (address, length)
    }
}
