import Foundation
import ModaAgentTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// docs/protocol.md: `POST /v1/ingest` on the agent, in Moda's own request and response shapes, driven by
/// the clients people use: curl and Python's standard library.
@Suite("HTTP receivers: POST /v1/ingest")
struct HTTPIngestTests {
    /// The receivers' address the daemon logged (it was asked for port 0: any free one).
    static func address(_ agent: AgentProcess) async -> String? {
        var found: String?
        _ = await waitFor(timeout: .seconds(10)) {
            for line in agent.log().split(separator: "\n") where line.contains("HTTP receivers") {
                if let range = line.range(of: #"listen=127\.0\.0\.1:\d+"#, options: .regularExpression) {
                    found = String(line[range].dropFirst("listen=".count))
                }
            }
            return found != nil
        }
        return found
    }

    struct Answer {
        var status: Int
        var json: [String: Any]
        var headers: String
    }

    /// curl with the given extra arguments; the status, the parsed JSON body and the raw headers.
    static func curl(_ url: String, _ arguments: [String], directory: TemporaryDirectory) async throws -> Answer {
        let headers = directory.file("headers-\(UUID().uuidString)")
        let result = try await CommandRunner.run(
            "/usr/bin/curl",
            ["-s", "-D", headers, "-o", "/dev/stdout", "-w", "\n%{http_code}", "--max-time", "20"] + arguments + [url]
        )
        let parts = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let body = parts.dropLast().joined(separator: "\n")
        let json = (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:]
        return Answer(
            status: Int(parts.last ?? "") ?? 0,
            json: json,
            headers: (try? String(contentsOfFile: headers, encoding: .utf8)) ?? ""
        )
    }

    @Test("curl: 200 once durable, 400 naming every fault, 413, 404, 405, gzip and bad gzip; Moda's shapes throughout")
    func curlShapes() async throws {
        try await AgentProcess.with(
            overrides: [
                "http": ["listen": "127.0.0.1:0", "maxBodyBytes": 4096], "batch": ["maxEventBytes": 512],
                "environment": "staging",
            ]
        ) { agent in
            let host = try #require(await Self.address(agent), "no HTTP receivers line in:\n\(agent.log())")
            let url = "http://\(host)/v1/ingest"
            let dir = agent.directory
            let good = #"{"environment":"prod","events":[{"conversation_id":"c1","role":"user","message":"hi"},{"conversation_id":"c1","role":"assistant","message":"hello"}]}"#
            let ok = try await Self.curl(url, ["-H", "Content-Type: application/json", "-d", good], directory: dir)
            #expect(ok.status == 200)
            #expect(ok.json["success"] as? Bool == true && ok.json["count"] as? Int == 2)
            let requestId = try #require(ok.json["requestId"] as? String)
            #expect(requestId.count == 36 && requestId.split(separator: "-").count == 5, "a UUID: \(requestId)")
            // Durable before the answer: the file already holds both, stamped.
            let events = try QueueSnapshot(path: agent.queuePath).parsedEvents
            #expect(events.count == 2)
            #expect(events.allSatisfy { $0["environment"] as? String == "prod" && $0["timestamp"] is String })

            let bad = #"{"events":[{"conversation_id":"c","role":"bot","message":"m"},{"role":"user","message":"m"}]}"#
            let refused = try await Self.curl(url, ["-d", bad], directory: dir)
            #expect(refused.status == 400)
            #expect(refused.json["success"] as? Bool == false && refused.json["retryable"] as? Bool == false)
            let message = refused.json["message"] as? String ?? ""
            #expect(message.contains("events[0]: role must be one of user, assistant, system"), "\(message)")
            #expect(message.contains("events[1]: conversation_id is required"), "\(message)")
            #expect(!message.contains("line "), "no line prefix over HTTP: \(message)")

            let bare = try await Self.curl(url, ["-d", #"{"conversation_id":"c","role":"user","message":"m"}"#], directory: dir)
            #expect(bare.status == 400 && (bare.json["message"] as? String ?? "").contains("\"events\" array"))
            let malformed = try await Self.curl(url, ["-d", #"{"events":[{"#], directory: dir)
            #expect(malformed.status == 400)

            let big = try await Self.curl(url, ["--data-binary", String(repeating: "x", count: 5000)], directory: dir)
            #expect(big.status == 413 && (big.json["message"] as? String ?? "").contains("http.maxBodyBytes"))
            let bigEvent = "{\"events\":[{\"conversation_id\":\"c\",\"role\":\"user\",\"message\":\"" + String(repeating: "b", count: 700) + "\"}]}"
            let eventTooBig = try await Self.curl(url, ["-d", bigEvent], directory: dir)
            #expect(eventTooBig.status == 413 && (eventTooBig.json["message"] as? String ?? "").contains("batch.maxEventBytes"))

            let gzipped = dir.file("body.gz")
            let source = dir.file("body.json")
            try #"{"events":[{"conversation_id":"gz","role":"user","message":"compressed"}]}"#.write(
                toFile: source, atomically: true, encoding: .utf8)
            #expect(try await CommandRunner.run("/bin/sh", ["-c", "gzip -c \(source) > \(gzipped)"]).status == 0)
            let gz = try await Self.curl(url, ["-H", "Content-Encoding: gzip", "--data-binary", "@\(gzipped)"], directory: dir)
            #expect(gz.status == 200 && gz.json["count"] as? Int == 1)
            let badGzip = try await Self.curl(url, ["-H", "Content-Encoding: gzip", "-d", "not gzip at all"], directory: dir)
            #expect(badGzip.status == 400 && (badGzip.json["message"] as? String ?? "").contains("gzip"))

            let notFound = try await Self.curl("http://\(host)/v1/nothing", ["-d", good], directory: dir)
            #expect(notFound.status == 404 && notFound.json["success"] as? Bool == false)
            let wrongMethod = try await Self.curl(url, [], directory: dir)
            #expect(wrongMethod.status == 405 && wrongMethod.headers.lowercased().contains("allow: post"))

            #expect(try QueueSnapshot(path: agent.queuePath).events.count == 3, "only the accepted requests were queued")
            #expect(agent.isRunning)
        }
    }

    @Test("http.token: 401 without it or with a wrong one; the client's own Authorization is never logged")
    func token() async throws {
        try await AgentProcess.with(overrides: ["http": ["listen": "127.0.0.1:0", "token": "local-secret"]]) { agent in
            let host = try #require(await Self.address(agent))
            let url = "http://\(host)/v1/ingest"
            let body = #"{"events":[{"conversation_id":"c","role":"user","message":"m"}]}"#
            let none = try await Self.curl(url, ["-d", body], directory: agent.directory)
            #expect(none.status == 401 && none.json["success"] as? Bool == false)
            let wrong = try await Self.curl(url, ["-H", "Authorization: Bearer moda-key-of-the-app", "-d", body], directory: agent.directory)
            #expect(wrong.status == 401)
            let right = try await Self.curl(url, ["-H", "Authorization: Bearer local-secret", "-d", body], directory: agent.directory)
            #expect(right.status == 200)
            #expect(!agent.log().contains("moda-key-of-the-app") && !agent.log().contains("local-secret"))
        }
    }

    @Test("queue full: 503 with retryable true and Retry-After: 1")
    func queueFull() async throws {
        try await AgentProcess.with(overrides: ["http": ["listen": "127.0.0.1:0"], "queue": ["maxBytes": 300]]) { agent in
            let host = try #require(await Self.address(agent))
            let body = "{\"events\":[{\"conversation_id\":\"c\",\"role\":\"user\",\"message\":\"" + String(repeating: "m", count: 150) + "\"}]}"
            let first = try await Self.curl("http://\(host)/v1/ingest", ["-d", body], directory: agent.directory)
            #expect(first.status == 200)
            let full = try await Self.curl("http://\(host)/v1/ingest", ["-d", body], directory: agent.directory)
            #expect(full.status == 503)
            #expect(full.json["retryable"] as? Bool == true && (full.json["message"] as? String ?? "").contains("queue full"))
            #expect(full.headers.lowercased().contains("retry-after: 1"), "\(full.headers)")
        }
    }

    @Test(
        "Python's urllib, as code written for Moda's API: success and the error shape",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"))
    )
    func pythonClient() async throws {
        try await AgentProcess.with(overrides: ["http": ["listen": "127.0.0.1:0"]]) { agent in
            let host = try #require(await Self.address(agent))
            let script = """
                import json, sys, urllib.request, urllib.error
                url = "http://\(host)/v1/ingest"
                def post(payload):
                    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                        headers={"Content-Type": "application/json", "Authorization": "Bearer sk-moda-app-key"})
                    try:
                        with urllib.request.urlopen(request, timeout=10) as answer:
                            return answer.status, json.load(answer)
                    except urllib.error.HTTPError as error:
                        return error.code, json.load(error)
                ok = post({"events": [{"conversation_id": "py", "role": "user", "message": "from python"}]})
                bad = post({"events": [{"messageType": "call", "id": "x"}]})
                print(json.dumps({"ok": ok, "bad": bad}))
                """
            let path = agent.directory.file("client.py")
            try script.write(toFile: path, atomically: true, encoding: .utf8)
            let result = try await CommandRunner.run("/usr/bin/python3", [path])
            #expect(result.status == 0, "\(result.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: [Any]])
            #expect(object["ok"]?.first as? Int == 200)
            #expect((object["ok"]?.last as? [String: Any])?["count"] as? Int == 1)
            #expect(object["bad"]?.first as? Int == 400)
            let message = (object["bad"]?.last as? [String: Any])?["message"] as? String ?? ""
            #expect(message.contains("events[0]"), "\(message)")
            #expect(!agent.log().contains("sk-moda-app-key"), "a client's own key is never logged")
        }
    }

    @Test("a slowloris client and a client sending a huge body affect no other client")
    func hostileClientsStayAlone() async throws {
        try await AgentProcess.with(overrides: ["http": ["listen": "127.0.0.1:0", "maxBodyBytes": 100_000]]) { agent in
            let host = try #require(await Self.address(agent))
            let parts = host.split(separator: ":")
            let port = UInt16(parts.last ?? "") ?? 0
            // Slowloris: headers trickled, never finished.
            let slow = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(slow) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = port.bigEndian
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(slow, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            #expect(connected == 0)
            _ = "POST /v1/ingest HTTP/1.1\r\nHost: x\r\nContent-Le".withCString { send(slow, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            // A 1 GB body announced, refused from its Content-Length without reading it.
            let huge = try await CommandRunner.run(
                "/bin/sh",
                ["-c", "head -c 1000000000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' --max-time 20 -H 'Content-Length: 1000000000' --data-binary @- http://\(host)/v1/ingest"]
            )
            #expect(huge.stdout == "413", "\(huge.stdout) \(huge.stderr)")
            let body = #"{"events":[{"conversation_id":"c","role":"user","message":"still served"}]}"#
            let ok = try await Self.curl("http://\(host)/v1/ingest", ["-d", body], directory: agent.directory)
            #expect(ok.status == 200)
            #expect(try UnixSocketClient.exchange(path: agent.socketPath, lines(1...1)) == [#"{"ok":true,"accepted":1}"#])
        }
    }

    @Test("http.listen unix:/PATH serves the same API on a Unix socket")
    func unixSocket() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("http.sock")
        try await AgentProcess.with(overrides: ["http": ["listen": "unix:\(path)"]]) { agent in
            #expect(await waitFor { FileManager.default.fileExists(atPath: path) })
            let answer = try await Self.curl(
                "http://localhost/v1/ingest",
                ["--unix-socket", path, "-d", #"{"events":[{"conversation_id":"u","role":"user","message":"m"}]}"#],
                directory: agent.directory
            )
            #expect(answer.status == 200 && answer.json["count"] as? Int == 1)
        }
    }
}
