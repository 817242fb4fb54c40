import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// `modactl send`: streams JSON lines to the daemon's socket and reads the replies at the same
/// time (a writer thread, the caller reads), so any amount of input works without deadlock.
public enum LineSender {
    public struct Summary: Sendable, Equatable {
        public var lines = 0
        public var acceptedLines = 0
        public var acceptedEvents = 0
        public var rejectedLines = 0
        public var errors: [String] = []

        public init() {}
    }

    public enum Failure: Error, CustomStringConvertible {
        case noDaemon(socket: String, reason: String)
        /// The socket's permissions keep this user out: only its group may write events.
        case notPermitted(socket: String, group: String)
        case connectionLost(socket: String, answered: Int)

        public var description: String {
            switch self {
            case .notPermitted(let socket, let group):
                return "permission denied on \(socket): only members of the group \(group) may write events. "
                    + "Ask an administrator to add this user (`sudo usermod -aG \(group) \(AccessHint.currentUser)`), "
                    + "then log in again"
            case .noDaemon(let socket, let reason):
                return "no moda-agent answers on \(socket) (\(reason)); start it with \(StartHint.start()) "
                    + "or check socket.path in the config"
            case .connectionLost(let socket, let answered):
                return "the connection to \(socket) closed after \(answered) replies; lines without a reply may not "
                    + "be queued: check the daemon's log and send them again"
            }
        }
    }

    /// Sends `data` (one file's content) on its own connection, so reply line numbers are the
    /// file's line numbers.
    public static func send(_ data: Data, socketPath: String) throws(Failure) -> Summary {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .noDaemon(socket: socketPath, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var address = sockaddr_un()
        guard UnixSocketPath.fill(&address, socketPath) else {
            throw .noDaemon(socket: socketPath, reason: "path too long")
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let code = errno
            if code == EACCES || code == EPERM {
                throw .notPermitted(socket: socketPath, group: AccessHint.groupName(ofFileAt: socketPath))
            }
            throw .noDaemon(socket: socketPath, reason: String(cString: strerror(code)))
        }

        let expected = countLines(data)
        let writer = WriterThread {
            data.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let sent = Glibc.send(
                        fd,
                        raw.baseAddress.map { $0 + offset },
                        raw.count - offset,
                        Int32(MSG_NOSIGNAL)
                    )
                    if sent < 0 {
                        if errno == EINTR { continue }
                        return
                    }
                    offset += sent
                }
            }
            shutdown(fd, Int32(SHUT_WR))
        }
        guard let writer else { throw .noDaemon(socket: socketPath, reason: "cannot start a thread to write") }

        var summary = Summary()
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { break }
            pending.append(contentsOf: buffer[..<got])
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                record(Array(pending[..<newline]), into: &summary)
                pending.removeSubrange(...newline)
            }
        }
        // The daemon said all it will: a send still blocked would wait forever. Joined before `fd` closes.
        shutdown(fd, Int32(SHUT_RDWR))
        writer.join()
        summary.lines = expected
        if summary.acceptedLines + summary.rejectedLines < expected {
            throw .connectionLost(socket: socketPath, answered: summary.acceptedLines + summary.rejectedLines)
        }
        return summary
    }

    private static func record(_ line: [UInt8], into summary: inout Summary) {
        guard let reply = JSONValue.parse(line), case .object = reply else { return }
        if reply["ok"] == .bool(true) {
            if case .int(let accepted) = reply["accepted"] { summary.acceptedEvents += Int(accepted) }
            summary.acceptedLines += 1
        } else {
            summary.rejectedLines += 1
            summary.errors.append(reply["error"]?.string ?? String(decoding: line, as: UTF8.self))
        }
    }

    /// Non-blank lines, as the daemon counts replies.
    static func countLines(_ data: Data) -> Int {
        var count = 0
        var blank = true
        for byte in data {
            if byte == UInt8(ascii: "\n") {
                if !blank { count += 1 }
                blank = true
            } else if byte != 0x20 && byte != 0x09 && byte != 0x0D {
                blank = false
            }
        }
        return blank ? count : count + 1
    }
}

/// One POSIX thread running a closure, joined by its owner: `send` blocks, so writing must not
/// wait for reading (or the other way round) on a single thread.
private final class WriterThread {
    private var thread = pthread_t()

    init?(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        let started = pthread_create(
            &thread,
            nil,
            { argument in
                guard let argument else { return nil }
                Unmanaged<Body>.fromOpaque(argument).takeRetainedValue().run()
                return nil
            },
            box
        )
        guard started == 0 else {
            Unmanaged<Body>.fromOpaque(box).release()
            return nil
        }
    }

    func join() {
        pthread_join(thread, nil)
    }

    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
}
