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
    /// Replies as read, `firstId` included; by default it is cut out, so tests that check the
    /// protocol's other fields compare whole lines (`ReplyText.withoutFirstId`).
    public var keepsFirstId = false

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
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                lines.append(keepsFirstId ? line : ReplyText.withoutFirstId(line))
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
    public static func exchange(
        path: String,
        _ payload: String,
        timeout: Duration = .seconds(30),
        keepingFirstId: Bool = false
    ) throws -> [String] {
        let client = try UnixSocketClient(path: path)
        client.keepsFirstId = keepingFirstId
        try client.send(payload)
        client.finishWriting()
        return client.readAll(timeout: timeout)
    }
}

/// Reply lines without their queue ids, which differ from run to run.
public enum ReplyText {
    /// `{"ok":true,"accepted":2,"firstId":1041}` → `{"ok":true,"accepted":2}`.
    public static func withoutFirstId(_ line: String) -> String {
        guard let marker = line.firstRange(of: ",\"firstId\":") else { return line }
        let digitsEnd = line[marker.upperBound...].firstIndex { !$0.isNumber } ?? line.endIndex
        return String(line[..<marker.lowerBound] + line[digitsEnd...])
    }

    /// The `firstId` of an accepted reply, nil for any other line.
    public static func firstId(_ line: String) -> Int64? {
        guard let marker = line.firstRange(of: ",\"firstId\":") else { return nil }
        return Int64(String(line[marker.upperBound...].prefix { $0.isNumber }))
    }
}
