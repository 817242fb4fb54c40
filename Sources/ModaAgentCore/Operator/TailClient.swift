#if canImport(Glibc)
import Glibc
#endif

/// The client end of the daemon's tail socket (`TailServer`): `modactl tail`, and `modactl trace`
/// asking which requests are in flight. One request line, then JSON lines until the daemon closes
/// (or, following, until the reader stops).
public final class TailClient {
    public enum Failure: Error, CustomStringConvertible {
        case noDaemon(socket: String, reason: String)
        /// Only the daemon's user and root may open it.
        case notPermitted(socket: String, owner: String)

        public var description: String {
            switch self {
            case .noDaemon(let socket, let reason):
                return "no moda-agent answers on its tail socket \(socket) (\(reason)); start it with "
                    + "\(StartHint.start()), or check queue.path in the config (the socket is beside the queue)"
            case .notPermitted(let socket, let owner):
                return "permission denied on \(socket): the tail shows conversation text, so only root and the "
                    + "daemon's user (\(owner)) may open it. Run `sudo modactl tail`, or `sudo -u \(owner) modactl tail`"
            }
        }
    }

    private let fd: Int32
    private var pending: [UInt8] = []

    public init(socketPath: String) throws(Failure) {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .noDaemon(socket: socketPath, reason: String(cString: strerror(errno))) }
        var address = sockaddr_un()
        guard UnixSocketPath.fill(&address, socketPath) else {
            close(fd)
            throw .noDaemon(socket: socketPath, reason: "path too long")
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let code = errno
            close(fd)
            if code == EACCES || code == EPERM {
                throw .notPermitted(socket: socketPath, owner: Self.owner(of: socketPath))
            }
            throw .noDaemon(socket: socketPath, reason: String(cString: strerror(code)))
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Sends the request line: `follow`, one conversation, some kinds (nil: all).
    public func request(follow: Bool, conversation: String?, kinds: [String]?) {
        var json = OrderedJSON()
        json.add("follow", .bool(follow))
        json.add("conversation", ifPresent: conversation.map(JSONValue.string))
        json.add("kinds", ifPresent: kinds.map { .array($0.map(JSONValue.string)) })
        send(json.line + "\n")
    }

    /// The requests the daemon has in flight, or none when no daemon answers.
    public static func inFlight(socketPath: String) -> [InFlightBoard.Entry] {
        guard let client = try? TailClient(socketPath: socketPath) else { return [] }
        client.send(#"{"inFlight":true}"# + "\n")
        guard let line = client.nextLine(), let json = JSONValue.parse(Array(line.utf8)),
            let entries = json["inFlight"]?.array
        else { return [] }
        return entries.compactMap { entry in
            guard let since = number(entry["since"]), let attempt = number(entry["attempt"]),
                let runs = entry["ids"]?.array
            else { return nil }
            return InFlightBoard.Entry(ids: Self.ids(runs), since: since, attempt: Int(attempt))
        }
    }

    private static func number(_ value: JSONValue?) -> Double? {
        switch value {
        case .double(let number)?: return number
        case .int(let number)?: return Double(number)
        default: return nil
        }
    }

    private static func ids(_ runs: [JSONValue]) -> [Int64] {
        runs.flatMap { run -> [Int64] in
            guard case .int(let first)? = run.array?.first, case .int(let last)? = run.array?.last, first <= last else {
                return []
            }
            return Array(first...last)
        }
    }

    /// The next line, or nil once the daemon closed the connection.
    public func nextLine() -> String? {
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                return line
            }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { return nil }
            pending += buffer[..<got]
        }
    }

    private func send(_ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += sent
        }
    }

    private static func owner(of path: String) -> String {
        var info = stat()
        guard stat(path, &info) == 0, let entry = getpwuid(info.st_uid), let name = entry.pointee.pw_name else {
            return "moda-agent"
        }
        return String(cString: name)
    }
}
