import Foundation
import ModaAgentTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The mock server is test infrastructure other tests lean on, so it gets tests of its own,
/// through a real HTTP client (URLSession) over loopback.
@Suite struct MockModaServerTests {
    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: String
        var json: MockJSON? { MockJSON.parse(body) }
    }

    static func post(_ body: String, to server: MockModaServer, session: URLSession = .shared) async throws -> Reply {
        guard let url = URL(string: server.endpoint) else { throw URLError(.badURL) }
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("Bearer test-key", forHTTPHeaderField: "Authorization")
        request.httpBody = Data(body.utf8)
        let (data, response) = try await session.data(for: request)
        guard let http = response as? HTTPURLResponse else { throw URLError(.badServerResponse) }
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { headers[name.lowercased()] = value }
        }
        return Reply(status: http.statusCode, headers: headers, body: String(decoding: data, as: UTF8.self))
    }

    static func withServer(
        recording: MockRecording = .full,
        _ body: (MockModaServer) async throws -> Void
    ) async throws {
        let server = try await MockModaServer.start(recording: recording)
        do {
            try await body(server)
        } catch {
            try await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }

    static let twoEvents = #"{"events":[{"conversation_id":"c1","role":"user","message":"hi"}, {"n":2.5,"ok":true}]}"#

    @Test func endpointIsLoopbackWithAPort() async throws {
        try await Self.withServer { server in
            #expect(server.endpoint == "http://127.0.0.1:\(server.port)/v1/ingest")
            #expect(server.port > 0)
        }
    }

    @Test func successRecordsTheRequestAndItsEvents() async throws {
        try await Self.withServer { server in
            let reply = try await Self.post(Self.twoEvents, to: server)
            #expect(reply.status == 200)
            #expect(reply.json?["success"] == true)
            #expect(reply.json?["count"] == 2)
            #expect(reply.json?["requestId"]?.stringValue?.count == 36)
            #expect(
                server.deliveredEvents == [
                    #"{"conversation_id":"c1","role":"user","message":"hi"}"#, #"{"n":2.5,"ok":true}"#,
                ]
            )
            #expect(server.requestCount == 1)
            let request = try #require(server.requests.first)
            #expect(request.number == 1)
            #expect(request.method == "POST")
            #expect(request.path == "/v1/ingest")
            #expect(request.headers["AUTHORIZATION"] == "Bearer test-key")
            #expect(request.headers["content-type"] == "application/json")
            #expect(request.eventCount == 2)
            #expect(request.field("role", ofEvent: 0) == "user")
            #expect(request.field("n", ofEvent: 1) == 2.5)
            #expect(request.field("ok", ofEvent: 1) == true)
            #expect(request.field("role", ofEvent: 5) == nil)
            #expect(request.events[1]["n"]?.doubleValue == 2.5)
            #expect(request.json?["events"]?[0]?["message"] == "hi")
        }
    }

    @Test func statusReplyHasTheAPIErrorShape() async throws {
        try await Self.withServer { server in
            server.respond { _ in
                .status(503, message: "Service temporarily unavailable", retryable: true, retryAfter: "3")
            }
            let reply = try await Self.post(Self.twoEvents, to: server)
            #expect(reply.status == 503)
            #expect(reply.headers["retry-after"] == "3")
            let json = try #require(reply.json)
            #expect(json["success"] == false)
            #expect(json["count"] == 0)
            #expect(json["message"] == "Service temporarily unavailable")
            #expect(json["retryable"] == true)
            #expect(json["requestId"]?.stringValue != nil)
            #expect(server.deliveredEvents.isEmpty)
            #expect(server.requestCount == 1)
        }
    }

    @Test func rawReplyIsSentAsGiven() async throws {
        try await Self.withServer { server in
            server.respond(.always(.raw(status: 418, headers: [("X-Mock", "yes")], body: "<html>teapot</html>")))
            let reply = try await Self.post(Self.twoEvents, to: server)
            #expect(reply.status == 418)
            #expect(reply.headers["x-mock"] == "yes")
            #expect(reply.body == "<html>teapot</html>")
            #expect(server.deliveredEvents.isEmpty)
        }
    }

    @Test func raw2xxCountsAsDeliveredOnlyWithSuccessTrue() async throws {
        try await Self.withServer { server in
            server.respond(
                .replying([
                    .raw(status: 200, headers: [], body: "OK"),
                    .raw(status: 200, headers: [], body: #"{"success":false}"#),
                    .raw(status: 202, headers: [], body: #"{"success":true}"#),
                ])
            )
            for _ in 0..<3 { _ = try await Self.post(Self.twoEvents, to: server) }
            #expect(server.deliveredEvents.count == 2)
            #expect(server.requestCount == 3)
        }
    }

    @Test func dropConnectionClosesWithoutAnAnswer() async throws {
        try await Self.withServer { server in
            server.respond(.always(.dropConnection))
            let session = URLSession(configuration: .ephemeral)
            defer { session.invalidateAndCancel() }
            await #expect(throws: (any Error).self) {
                try await Self.post(Self.twoEvents, to: server, session: session)
            }
            #expect(server.requestCount >= 1)
            #expect(server.deliveredEvents.isEmpty)
            // The server is still fine for the next client.
            server.respond(.alwaysSuccess)
            let again = try await Self.post(Self.twoEvents, to: server, session: session)
            #expect(again.status == 200)
        }
    }

    @Test func rejectingEventsNamesTheBadEvent() async throws {
        try await Self.withServer { server in
            server.respond(.rejectingEvents(where: { $0["bad"] == true }, status: 422))
            let rejected = try await Self.post(#"{"events":[{"i":0},{"i":1,"bad":true},{"i":2}]}"#, to: server)
            #expect(rejected.status == 422)
            #expect(rejected.json?["retryable"] == false)
            let message = try #require(rejected.json?["message"]?.stringValue)
            #expect(message.hasPrefix("events[1]: "))
            #expect(message.contains(#"{"i":1,"bad":true}"#))
            let accepted = try await Self.post(#"{"events":[{"i":0},{"i":2}]}"#, to: server)
            #expect(accepted.status == 200)
            #expect(server.deliveredEvents == [#"{"i":0}"#, #"{"i":2}"#])
        }
    }

    @Test func failingFirstThenSuccess() async throws {
        try await Self.withServer { server in
            server.respond(.failing(first: 2, with: .status(503, message: "busy", retryable: true)))
            var statuses: [Int] = []
            for _ in 0..<4 { statuses.append(try await Self.post(Self.twoEvents, to: server).status) }
            #expect(statuses == [503, 503, 200, 200])
            #expect(server.deliveredEvents.count == 4)
        }
    }

    @Test func keepAliveServesManyRequestsOnFewConnections() async throws {
        try await Self.withServer { server in
            let session = URLSession(configuration: .ephemeral)
            defer { session.invalidateAndCancel() }
            for _ in 0..<200 { _ = try await Self.post(#"{"events":[{"k":1}]}"#, to: server, session: session) }
            #expect(server.requestCount == 200)
            #expect(server.requests.map(\.number) == Array(1...200))
            #expect(server.deliveredEvents.count == 200)
            #expect(server.connectionCount <= 2)
        }
    }

    @Test func largeBodiesArrive() async throws {
        try await Self.withServer { server in
            let message = String(repeating: "m", count: 100_000)
            let event = #"{"conversation_id":"c","role":"user","message":"\#(message)"}"#
            let body = #"{"events":["# + Array(repeating: event, count: 60).joined(separator: ",") + "]}"
            #expect(body.utf8.count > 6_000_000)
            let reply = try await Self.post(body, to: server)
            #expect(reply.status == 200)
            #expect(server.deliveredEvents.count == 60)
            #expect(server.deliveredEvents.last == event)
        }
    }

    @Test func countOnlyCountsEventsAndKeepsNothing() async throws {
        try await Self.withServer(recording: .countOnly) { server in
            let reply = try await Self.post(Self.twoEvents, to: server)
            #expect(reply.status == 200)
            #expect(reply.json?["count"] == 2)
            #expect(server.deliveredCount == 2)
            #expect(server.requestCount == 1)
            #expect(server.requests.isEmpty)
            #expect(server.deliveredEvents.isEmpty)
        }
    }

    @Test func tallyCountsRefusalsAndStampsTheTarget() async throws {
        try await Self.withServer(recording: .countOnly) { server in
            server.resetTally(target: 3)
            server.respond(.always(.status(503, message: "down", retryable: true)))
            let before = Monotonic.now()
            #expect(try await Self.post(Self.twoEvents, to: server).status == 503)
            server.respond(.alwaysSuccess)
            _ = try await Self.post(Self.twoEvents, to: server)
            #expect(server.tally.targetReachedAt == 0)
            _ = try await Self.post(Self.twoEvents, to: server)
            let tally = server.tally
            #expect(tally.requests == 3)
            #expect(tally.refusals == 1)
            #expect(tally.deliveredEvents == 4)
            #expect(tally.firstRefusalAt >= before)
            #expect(tally.targetReachedAt >= tally.firstRefusalAt)
            server.resetTally()
            #expect(server.tally.requests == 0)
            #expect(server.deliveredCount == 4)
        }
    }

    @Test func waitForDeliveredCountIsBounded() async throws {
        try await Self.withServer { server in
            let clock = ContinuousClock()
            let start = clock.now
            #expect(await server.waitForDeliveredCount(1, timeout: .milliseconds(100)) == false)
            // Bounded, not punctual: on 2 cores, tests that block the cooperative pool can delay the
            // return by seconds (9.7 s seen in a parallel run). A wait that ignored its timeout never returns.
            #expect(clock.now - start < .seconds(30))
            async let waited = server.waitForDeliveredCount(2, timeout: .seconds(10))
            _ = try await Self.post(Self.twoEvents, to: server)
            #expect(await waited)
            #expect(await server.waitForDeliveredCount(0, timeout: .zero))
        }
    }

    @Test func restartsOnTheSamePort() async throws {
        let first = try await MockModaServer.start()
        _ = try await Self.post(Self.twoEvents, to: first)
        try await first.shutdown()
        let second = try await MockModaServer.start(port: first.port)
        let reply = try? await Self.post(Self.twoEvents, to: second)
        let requestCount = second.requestCount
        try await second.shutdown()
        #expect(second.endpoint == first.endpoint)
        #expect(reply?.status == 200)
        #expect(requestCount == 1)
    }

    @Test func shutdownIsIdempotentAndStopsListening() async throws {
        let server = try await MockModaServer.start()
        try await server.shutdown()
        try await server.shutdown()
        let session = URLSession(configuration: .ephemeral)
        defer { session.invalidateAndCancel() }
        await #expect(throws: (any Error).self) { try await Self.post(Self.twoEvents, to: server, session: session) }
    }
}

@Suite struct MockRequestTests {
    static func request(_ body: String) -> MockRequest {
        MockRequest(number: 1, method: "POST", path: "/", headers: MockHeaders([]), body: Array(body.utf8))
    }

    @Test func eventsAreSplitByteForByte() {
        let body =
            #" { "environment" : "x", "meta":{"events":[9]}, "#
            + #""events" : [ {"s":"a]}\"[{"} ,[1,[2]], "str" , 12.5e3,null , true ] } "#
        #expect(Self.request(body).eventsJSON == [#"{"s":"a]}\"[{"}"#, "[1,[2]]", #""str""#, "12.5e3", "null", "true"])
    }

    @Test func bodiesWithoutEventsHaveNone() {
        for body in ["", "[]", "{}", #"{"events":[]}"#, #"{"events":{}}"#, #"{"events":[{"a":1}"#, "not json"] {
            #expect(Self.request(body).eventsJSON.isEmpty, "\(body)")
        }
    }

    @Test func headersAreCaseInsensitive() {
        let headers = MockHeaders([("Content-Type", "application/json"), ("X-A", "1"), ("x-a", "2")])
        #expect(headers["content-TYPE"] == "application/json")
        #expect(headers.values("X-a") == ["1", "2"])
        #expect(headers["missing"] == nil)
    }

    @Test func jsonValues() {
        let json = MockJSON.parse(#"{"a":[1,"two",false,null,{"b":1.5}]}"#)
        #expect(json?["a"]?[0] == 1)
        #expect(json?["a"]?[0]?.intValue == 1)
        #expect(json?["a"]?[1] == "two")
        #expect(json?["a"]?[2] == false)
        #expect(json?["a"]?[3] == .null)
        #expect(json?["a"]?[4]?["b"] == 1.5)
        #expect(json?["a"]?[9] == nil)
        #expect(MockJSON.parse("{") == nil)
    }
}
