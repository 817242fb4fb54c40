import ModaAgentTestSupport

/// The load generator's ceiling target: a Unix socket that reads lines and answers each one at
/// once with a canned `{"ok":true,"accepted":1}`, with no parsing and no disk. Timing the
/// generator against it measures the generator (and the kernel), not a server.
final class SinkServer: Sendable {
    private static let reply = Array("{\"ok\":true,\"accepted\":1}\n".utf8)
    private static let repliesPerWrite = 4096

    private let listener: BlockingSocket
    private let threads = ThreadGroup()

    /// Listens at `path` and serves exactly `connections` connections, each until end of stream.
    init(path: String, connections: Int) throws(BenchFailure) {
        listener = try BenchFailure.wrapping(try BlockingSocket.listenUnix(path: path))
        let listener = listener
        let threads = threads
        threads.spawn("bench-sink-accept") {
            for index in 0..<connections {
                guard let client = listener.accept() else { return }
                threads.spawn("bench-sink-\(index)") { Self.serve(client) }
            }
        }
    }

    /// Stops accepting (a missing connection must not hang the bench), then waits until every
    /// connection has ended.
    func finish() {
        listener.shutdownBoth()
        threads.wait()
    }

    private static func serve(_ client: BlockingSocket) {
        var canned: [UInt8] = []
        for _ in 0..<repliesPerWrite { canned.append(contentsOf: reply) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 18, alignment: 16)
        defer { buffer.deallocate() }
        var owed = 0
        while true {
            let got = client.receive(into: buffer)
            if got <= 0 { break }
            for byte in UnsafeRawBufferPointer(rebasing: buffer[0..<got]) where byte == 0x0A { owed += 1 }
            do throws(SocketError) {
                while owed > 0 {
                    let count = min(owed, repliesPerWrite)
                    try client.send(canned, prefix: count * reply.count)
                    owed -= count
                }
            } catch {
                break
            }
        }
        client.shutdownBoth()
    }
}
