import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A bound `AF_UNIX` `SOCK_DGRAM` socket in /tmp (short path: `sun_path` holds < 108 bytes) or in the abstract
/// namespace, like systemd's.
public final class DatagramListener: @unchecked Sendable {
    // @unchecked: the fd is read by one test at a time and closed once.
    public let path: String
    private let fd: CInt
    private let isAbstract: Bool

    /// `abstract`: bind in the abstract namespace instead of /tmp; ``path`` is then `@name`, as `NOTIFY_SOCKET`
    /// writes such an address.
    public init(abstract: Bool = false) throws {
        let name = "moda-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        self.path = abstract ? "@\(name)" : "/tmp/\(name).sock"
        self.isAbstract = abstract
        self.fd = socket(AF_UNIX, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard self.fd >= 0 else { throw NotifierTestError("socket() failed: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(self.path.utf8)
        if abstract { bytes[0] = 0 }
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(self.fd)
            throw NotifierTestError("socket path too long: \(self.path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        // An abstract name is exactly its bytes (no terminating NUL), as the sender counts it.
        let length = abstract ? MemoryLayout<sa_family_t>.size + bytes.count : MemoryLayout<sockaddr_un>.size
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(self.fd, $0, socklen_t(length))
            }
        }
        guard bound == 0 else {
            close(self.fd)
            throw NotifierTestError("bind(\(self.path)) failed: errno \(errno)")
        }
    }

    deinit {
        close(self.fd)
        if !self.isAbstract { unlink(self.path) }
    }

    /// The next datagram, waiting at most `timeoutMilliseconds` (notifications are sent synchronously, so it is
    /// normally there already).
    public func receive(timeoutMilliseconds: CInt = 5_000) throws -> String {
        var pollFD = pollfd(fd: self.fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pollFD, 1, timeoutMilliseconds)
        guard ready > 0 else { throw NotifierTestError("no notification within \(timeoutMilliseconds) ms") }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(self.fd, $0.baseAddress, $0.count, 0) }
        guard count >= 0 else { throw NotifierTestError("recv failed: errno \(errno)") }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }
}

public struct NotifierTestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension DatagramListener {
    /// Every datagram until `match` holds for one (returned) or `timeout` passes (nil).
    public func receive(until match: (String) -> Bool, timeoutMilliseconds: CInt = 10_000) -> String? {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeoutMilliseconds))
        while ContinuousClock.now < deadline {
            guard let message = try? receive(timeoutMilliseconds: 200) else { continue }
            if match(message) { return message }
        }
        return nil
    }
}
