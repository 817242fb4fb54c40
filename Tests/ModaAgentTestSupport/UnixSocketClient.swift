import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A blocking Unix-socket client for tests, with bounded reads: what an application writing JSON
/// lines to the agent does.
public final class UnixSocketClient: @unchecked Sendable {
    // @unchecked: used from one test task at a time; the fd is closed once.
    public let fd: Int32
    private var pending: [UInt8] = []

    public init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .ECONNREFUSED)
        }
    }

    deinit {
        Glibc.close(fd)
    }

    public static func canConnect(_ path: String) -> Bool {
        (try? UnixSocketClient(path: path)) != nil
    }

    public func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPIPE)
            }
            offset += written
        }
    }

    /// Half-closes: the agent sees EOF but can still answer.
    public func finishWriting() {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Reads up to `count` reply lines, waiting at most `timeout` overall.
    public func readLines(_ count: Int, timeout: Duration = .seconds(20)) -> [String] {
        var lines: [String] = []
        let deadline = ContinuousClock.now + timeout
        while lines.count < count {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                lines.append(String(decoding: pending[..<newline], as: UTF8.self))
                pending.removeSubrange(...newline)
                continue
            }
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { break }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let millis = Int32(
                max(1, remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000)
            )
            let ready = poll(&poller, 1, millis)
            if ready <= 0 { if ready < 0 && errno == EINTR { continue }; break }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got <= 0 { break }
            pending.append(contentsOf: buffer[..<got])
        }
        return lines
    }

    /// Reads until the agent closes the connection (bounded); every reply line.
    public func readAll(timeout: Duration = .seconds(30)) -> [String] {
        readLines(Int.max, timeout: timeout)
    }

    /// Sends all `lines`, half-closes and collects every reply: a complete client session.
    public static func exchange(path: String, _ payload: String, timeout: Duration = .seconds(30)) throws -> [String] {
        let client = try UnixSocketClient(path: path)
        try client.send(payload)
        client.finishWriting()
        return client.readAll(timeout: timeout)
    }
}
