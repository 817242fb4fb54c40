import ModaAgentTestSupport

/// Measures what the mock can absorb: `connections` keep-alive clients, each on its own thread,
/// POST the same 1,000-event body (~320 KB, like the agent's full batches) back to back and read
/// each answer. The mock must take events at least 3× as fast as the agent delivers them, or the
/// end-to-end figures would measure the mock.
struct MockCeilingProbe {
    let connections: Int
    let requestsPerConnection: Int
    let eventsPerRequest = 1000

    struct Ceiling {
        let requestsPerSecond: Double
        let eventsPerSecond: Double
    }

    func run(mock: MockModaServer) throws(BenchFailure) -> Ceiling {
        let request = makeRequest()
        var sockets: [BlockingSocket] = []
        for _ in 0..<connections {
            sockets.append(try BenchFailure.wrapping(try BlockingSocket.loopbackTCP(port: mock.port)))
        }
        let total = connections * requestsPerConnection
        mock.resetTally(target: total * eventsPerRequest)
        let errors = Collector<String>()
        let threads = ThreadGroup()
        let perConnection = requestsPerConnection
        let started = Monotonic.now()
        for (index, socket) in sockets.enumerated() {
            threads.spawn("bench-probe-\(index)") {
                var reader = HTTPResponseReader()
                do throws(BenchFailure) {
                    for _ in 0..<perConnection {
                        try BenchFailure.wrapping(try socket.send(request, prefix: request.count))
                        let status = try reader.next(from: socket)
                        guard status == 200 else { throw BenchFailure("the mock answered \(status)") }
                    }
                } catch {
                    errors.add("mock probe: \(error)")
                }
            }
        }
        threads.wait()
        let seconds = Monotonic.seconds(from: started, to: Monotonic.now())
        if let error = errors.all.first { throw BenchFailure(error) }
        let counted = mock.tally.deliveredEvents
        guard counted == total * eventsPerRequest else {
            throw BenchFailure("mock probe: the mock counted \(counted) events of \(total * eventsPerRequest) sent")
        }
        return Ceiling(requestsPerSecond: Double(total) / seconds, eventsPerSecond: Double(counted) / seconds)
    }

    private func makeRequest() -> [UInt8] {
        var body = Array("{\"events\":[".utf8)
        for seq in 0..<eventsPerRequest {
            if seq > 0 { body.append(UInt8(ascii: ",")) }
            body.append(contentsOf: EventBlock.event(seq: seq, connection: 0).utf8)
        }
        body.append(contentsOf: "]}".utf8)
        let head =
            "POST /v1/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer bench\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
        return Array(head.utf8) + body
    }
}
