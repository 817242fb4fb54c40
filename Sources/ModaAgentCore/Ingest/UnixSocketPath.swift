#if canImport(Glibc)
import Glibc
#endif

/// What lies at the socket path before the daemon binds: a live daemon, a stale file, or nothing.
enum UnixSocketPath {
    /// True when something accepts connections at `path`.
    static func isAnswering(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        guard fill(&address, path) else { return false }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }

    /// Removes a socket file a crashed daemon left behind; refuses when a daemon still answers.
    static func clearStale(_ path: String) throws(IngestError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if isAnswering(path) { throw .socketInUse(path: path) }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw .cannotBind(
                path: path,
                reason: "a file that is not a socket is in the way; move it or change socket.path"
            )
        }
        unlink(path)
    }

    static func fill(_ address: inout sockaddr_un, _ path: String) -> Bool {
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return true
    }
}
