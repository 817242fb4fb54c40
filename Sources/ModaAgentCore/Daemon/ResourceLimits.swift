#if canImport(Glibc)
import Glibc
#endif

/// Raises the soft open-file limit to the hard one: each client connection is a descriptor, and
/// the default soft limit (often 1024) would otherwise cap `socket.maxConnections` with EMFILE.
enum ResourceLimits {
    static func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}
