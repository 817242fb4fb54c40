import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A blocking Unix-socket client for tests, with bounded reads: what an application writing JSON
/// lines to the agent does.
public final class UnixSocketClient: @unchecked Sendable {
    // @unchecked: used from one test task at a time; `pending` is only touched by that task.
    private let socket: BlockingSocket
    private var pending: [UInt8] = []

    public var fd: Int32 { socket.fd }

    public init(path: String) throws {
        socket = try BlockingSocket.unix(path: path)
    }

    public static func canConnect(_ path: String) -> Bool {
        (try? UnixSocketClient(path: path)) != nil
    }

    public func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    public func send(_ bytes: [UInt8]) throws {
        try socket.send(bytes, prefix: bytes.count)
    }

    /// Half-closes: the agent sees EOF but can still answer.
    public func finishWriting() {
        socket.shutdownWrite()
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
            let got = buffer.withUnsafeMutableBytes { socket.receive(into: $0) }
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
