#if canImport(Glibc)
import Glibc
#endif
import ModaAgentTestSupport

/// Reads HTTP/1.1 responses off a blocking keep-alive socket for the mock's ceiling probe: finds
/// the end of the head, takes Content-Length, skips the body, and returns the status. Enough for
/// the mock's own small answers; not a general HTTP client.
struct HTTPResponseReader {
    private var pending: [UInt8] = []
    private let chunk = 16 * 1024

    /// The status code of the next response.
    mutating func next(from socket: BlockingSocket) throws(BenchFailure) -> Int {
        while true {
            if let (status, length) = try parseComplete() {
                pending.removeFirst(length)
                return status
            }
            let old = pending.count
            pending.append(contentsOf: repeatElement(0, count: chunk))
            let got = pending.withUnsafeMutableBytes { raw in
                socket.receive(into: UnsafeMutableRawBufferPointer(rebasing: raw[old...]))
            }
            pending.removeLast(chunk - max(got, 0))
            if got == 0 { throw BenchFailure("the mock closed the connection") }
            if got < 0 {
                if errno == EINTR { continue }
                throw .system("receive from the mock")
            }
        }
    }

    /// (status, bytes of the whole response) once a complete response is buffered.
    private func parseComplete() throws(BenchFailure) -> (Int, Int)? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard pending.count >= 4,
            let headEnd = (0...(pending.count - 4)).first(where: { pending[$0..<($0 + 4)].elementsEqual(separator) })
        else { return nil }
        let head = String(decoding: pending[0..<headEnd], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        guard let statusLine = lines.first,
            let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { throw BenchFailure("the mock sent a malformed response head: \(head.prefix(80))") }
        var length = 0
        for line in lines.dropFirst() where line.lowercased().hasPrefix("content-length:") {
            length = Int(line.dropFirst("content-length:".count).trimmingPrefixSpaces()) ?? 0
        }
        let total = headEnd + 4 + length
        return pending.count >= total ? (status, total) : nil
    }
}

extension Substring {
    fileprivate func trimmingPrefixSpaces() -> Substring {
        drop(while: { $0 == " " })
    }
}
