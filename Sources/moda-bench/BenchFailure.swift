#if canImport(Glibc)
import Glibc
#endif
import ModaAgentTestSupport

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

extension BenchFailure {
    init(_ error: SocketError) {
        self.init(error.description)
    }

    /// A socket call, its failure reported as a `BenchFailure`.
    static func wrapping<T>(_ body: @autoclosure () throws(SocketError) -> T) throws(BenchFailure) -> T {
        do throws(SocketError) {
            return try body()
        } catch {
            throw BenchFailure(error)
        }
    }
}
