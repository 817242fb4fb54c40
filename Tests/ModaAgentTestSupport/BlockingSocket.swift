#if canImport(Glibc)
import Glibc
#endif

/// A blocking stream socket (Unix or loopback TCP), the one socket client of the tests and the
/// benchmark. The benchmark's load generator, probes and sink use plain blocking I/O, one thread
/// per direction: nothing sits between them and the kernel, so their own cost stays well below the
/// agent's (their ceilings are measured and printed). Every descriptor is close-on-exec, so a
/// daemon started as a child never inherits one.
public final class BlockingSocket: @unchecked Sendable {
    // @unchecked: `fd` never changes; one thread writes while another reads, which a socket allows.
    public let fd: Int32

    private init(fd: Int32) {
        self.fd = fd
    }

    deinit {
        close(fd)
    }

    /// Connects to the Unix socket at `path`.
    public static func unix(path: String) throws(SocketError) -> BlockingSocket {
        let socket = try make(domain: AF_UNIX)
        var address = try unixAddress(path)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket.fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else { throw .system("connect to \(path)") }
        return socket
    }

    /// Connects to 127.0.0.1:`port`, with Nagle off (a request is one write; waiting helps nobody).
    public static func loopbackTCP(port: Int) throws(SocketError) -> BlockingSocket {
        let socket = try make(domain: AF_INET)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
        address.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else { throw .system("connect to 127.0.0.1:\(port)") }
        var one: Int32 = 1
        setsockopt(socket.fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return socket
    }

    /// A listening Unix socket at `path` (a stale file there is replaced).
    public static func listenUnix(path: String) throws(SocketError) -> BlockingSocket {
        let socket = try make(domain: AF_UNIX)
        var address = try unixAddress(path)
        unlink(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket.fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw .system("bind \(path)") }
        guard listen(socket.fd, 64) == 0 else { throw .system("listen on \(path)") }
        return socket
    }

    /// The next connection, or nil when the listener failed or was shut down.
    public func accept() -> BlockingSocket? {
        let client = Glibc.accept(fd, nil, nil)
        guard client >= 0 else { return nil }
        _ = fcntl(client, F_SETFD, FD_CLOEXEC)
        return BlockingSocket(fd: client)
    }

    /// Writes all of `bytes` (blocking until the peer has taken them).
    public func send(_ bytes: UnsafeRawBufferPointer) throws(SocketError) {
        guard var base = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let written = Glibc.send(fd, base, left, Int32(MSG_NOSIGNAL))
            if written < 0 {
                if errno == EINTR { continue }
                throw .system("send")
            }
            left -= written
            base += written
        }
    }

    /// Writes the first `count` bytes of `array`.
    public func send(_ array: [UInt8], prefix count: Int) throws(SocketError) {
        let result = array.withUnsafeBytes { raw in
            Result { () throws(SocketError) in
                try send(UnsafeRawBufferPointer(rebasing: raw[0..<min(count, raw.count)]))
            }
        }
        try result.get()
    }

    /// Reads what is there: bytes read, 0 at end of stream, -1 on error or timeout (see errno).
    public func receive(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        recv(fd, buffer.baseAddress, buffer.count, 0)
    }

    /// Bounds each `receive`, so a reader can notice a stalled peer instead of hanging.
    public func setReceiveTimeout(seconds: Double) {
        var limit = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Half-close: the peer reads end of stream but can still answer.
    public func shutdownWrite() {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Wakes a thread blocked in `accept` or `receive` on this socket.
    public func shutdownBoth() {
        shutdown(fd, Int32(SHUT_RDWR))
    }

    private static func make(domain: Int32) throws(SocketError) -> BlockingSocket {
        let fd = socket(domain, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("socket") }
        return BlockingSocket(fd: fd)
    }

    private static func unixAddress(_ path: String) throws(SocketError) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else {
            throw SocketError("socket path \(path) is \(bytes.count) bytes; Unix sockets allow \(capacity - 1)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }
}
