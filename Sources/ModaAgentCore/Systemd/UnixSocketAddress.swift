#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An `AF_UNIX` address in systemd's notation (`NOTIFY_SOCKET`): an absolute path, or `@name` in the abstract
/// namespace, the `@` standing for the leading NUL byte.
///
/// As libsystemd does, both kinds must leave room for a terminating NUL in `sun_path` (at most 107 bytes), and
/// nothing else is accepted (no relative paths), so an address means one thing only.
struct UnixSocketAddress: Sendable {
    let text: String
    private var storage = sockaddr_un()
    /// What `sendto` takes as the address length: a path counts its NUL, an abstract name does not (the kernel
    /// compares abstract names by length, and systemd binds them that way).
    let length: socklen_t

    /// `sun_path`'s size, 108 on Linux.
    static var pathCapacity: Int { MemoryLayout.size(ofValue: sockaddr_un().sun_path) }

    /// `source` names where the text came from, for the error.
    init(_ text: String, source: String) throws(SystemdSocketError) {
        let bytes = Array(text.utf8)
        let isAbstract = bytes.first == UInt8(ascii: "@")
        guard bytes.count >= 2, isAbstract || bytes.first == UInt8(ascii: "/"), !bytes.contains(0) else {
            throw .invalidAddress(text, source: source)
        }
        guard bytes.count < Self.pathCapacity else {
            throw .addressTooLong(text, source: source, limit: Self.pathCapacity - 1)
        }
        self.text = text
        self.storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &self.storage.sun_path) { path in
            path.copyBytes(from: bytes)
            if isAbstract { path[0] = 0 }
        }
        // sun_path follows sun_family directly on Linux.
        let header = MemoryLayout<sa_family_t>.size
        self.length = socklen_t(header + bytes.count + (isAbstract ? 0 : 1))
    }

    /// Sends `payload` as one datagram over `fd` to this address: what `sendto` returns (-1 with `errno` set).
    func sendDatagram(_ payload: [UInt8], over fd: CInt) -> Int {
        payload.withUnsafeBytes { bytes in
            self.withSockaddr { sendto(fd, bytes.baseAddress, bytes.count, CInt(MSG_NOSIGNAL), $0, $1) }
        }
    }

    /// Calls `body` with the address as `sendto`/`sendmsg` take it.
    func withSockaddr<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
        withUnsafePointer(to: self.storage) { address in
            address.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, self.length) }
        }
    }
}
