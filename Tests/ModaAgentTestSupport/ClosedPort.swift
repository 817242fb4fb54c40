import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A loopback TCP port on which nothing will ever listen while the tests run: bound and never
/// listened on, so connecting is refused at once. Safer than a "well-known unused" port, which
/// some other process on the machine may be serving.
public enum ClosedPort {
    public static let port: Int = {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        // The descriptor stays open (and the port reserved) for the life of the test process.
        return Int(UInt16(bigEndian: address.sin_port))
    }()

    public static var endpoint: String { "http://127.0.0.1:\(port)/v1/ingest" }
}
