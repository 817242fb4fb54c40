import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An upstream that misbehaves below HTTP: it answers `200 OK` headers and then stalls or trickles
/// the body, as a broken proxy would. Plain blocking sockets on 127.0.0.1, one thread per
/// connection, so the stall is real bytes on a real connection.
public final class StallingUpstream: @unchecked Sendable {
    // @unchecked: `mode`, `requests` and `connections` are guarded by `lock`.
    public enum Mode: Sendable {
        /// Headers promising `Content-Length: 64`, then nothing.
        case stallAfterHeaders
        /// Headers promising 64 bytes, then one byte a second.
        case trickle
        /// A proper `{"success":true}` answer.
        case success
        /// Success, but only once `release()` is called: a batch held in flight.
        case held
    }

    public let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var mode: Mode
    private var requests: [Mode] = []
    private var acceptedEvents = 0
    private var connections: [Int32] = []
    private var stopped = false
    private var received: [String] = []
    private let gate = DispatchSemaphore(value: 0)

    public init(mode: Mode) throws {
        self.mode = mode
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in acceptLoop() }.start()
    }

    public var endpoint: String { "http://127.0.0.1:\(port)/v1/ingest" }

    public func setMode(_ mode: Mode) {
        lock.withLock { self.mode = mode }
    }

    /// The mode each request was answered in, in arrival order.
    public var answered: [Mode] { lock.withLock { requests } }

    /// Lets every request held in `.held` mode answer.
    public func release() {
        for _ in 0..<64 { gate.signal() }
    }

    /// The bodies of all requests, in arrival order.
    public var bodies: [String] { lock.withLock { received } }

    /// Events in requests answered with success.
    public var deliveredEvents: Int { lock.withLock { acceptedEvents } }

    public func stop() {
        let open = lock.withLock { () -> [Int32] in
            stopped = true
            return connections
        }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            let admitted = lock.withLock { () -> Bool in
                if stopped { return false }
                connections.append(fd)
                return true
            }
            guard admitted else {
                close(fd)
                return
            }
            Thread { [self] in serve(fd) }.start()
        }
    }

    private func serve(_ fd: Int32) {
        defer {
            lock.withLock { connections.removeAll { $0 == fd } }
            close(fd)
        }
        while let body = readRequest(fd) {
            let current = lock.withLock { () -> Mode in
                requests.append(mode)
                received.append(body)
                return mode
            }
            let promised = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n"
            switch current {
            case .stallAfterHeaders:
                guard send(fd, promised) else { return }
                // Hold the connection open, sending nothing, until the client gives up or we stop.
                var byte: UInt8 = 0
                _ = recv(fd, &byte, 1, 0)
                return
            case .trickle:
                guard send(fd, promised) else { return }
                for _ in 0..<64 {
                    guard !lock.withLock({ stopped }), send(fd, " ") else { return }
                    Thread.sleep(forTimeInterval: 1)
                }
                return
            case .success, .held:
                if current == .held { gate.wait() }
                let count = body.components(separatedBy: "\"seq\"").count - 1
                lock.withLock { acceptedEvents += max(count, 1) }
                let answer = #"{"success":true,"count":1,"requestId":"stalling-upstream"}"#
                guard
                    send(
                        fd,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(answer.utf8.count)\r\n\r\n"
                            + answer
                    )
                else { return }
            }
        }
    }

    /// The request's body, or nil when the client closed.
    private func readRequest(_ fd: Int32) -> String? {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let headerEnd = Self.find([13, 10, 13, 10], in: data) {
                let head = String(decoding: data[..<headerEnd], as: UTF8.self).lowercased()
                var length = 0
                for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
                    length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
                }
                let bodyStart = headerEnd + 4
                if data.count - bodyStart >= length {
                    return String(decoding: data[bodyStart..<(bodyStart + length)], as: UTF8.self)
                }
            }
            let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { return nil }
            data.append(contentsOf: buffer[..<got])
        }
    }

    private func send(_ fd: Int32, _ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent < 0 && errno == EINTR { continue }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }
}
