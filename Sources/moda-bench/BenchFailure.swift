#if canImport(Glibc)
import Glibc
#endif

/// Something the benchmark could not do or found broken: events missing, a refused line, a
/// daemon that crashed or would not start, a socket error. These, never a slow figure, make
/// `moda-bench` exit non-zero.
struct BenchFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }

    /// A failed system call, with the reason `errno` gives.
    static func system(_ what: String) -> BenchFailure {
        BenchFailure("\(what): \(String(cString: strerror(errno)))")
    }
}
