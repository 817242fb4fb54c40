import Foundation
import ModaAgentCore
import ModaAgentTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// docs/tracing.md: `modactl tail` follows the daemon's flow from its own socket beside the queue,
/// owner-only; a tail that cannot keep up is told what it missed and never slows the daemon.
@Suite("modactl tail")
struct TailTests {
    /// A reader of a child's stdout through a FIFO, which the test can stop reading (a stalled tail).
    final class FIFOReader: @unchecked Sendable {
        // @unchecked: used from one test task at a time.
        let fd: Int32
        private var pending: [UInt8] = []

        /// Opened before the writer (non-blocking, so the open does not wait for it): a blocking open
        /// would wait for a writer that posix_spawn cannot start until the open returns.
        init(path: String) {
            fd = open(path, O_RDONLY | O_NONBLOCK)
        }

        deinit { if fd >= 0 { close(fd) } }

        /// Lines read until `condition` holds on them or `timeout` passes.
        func read(timeout: Duration, until condition: ([String]) -> Bool) -> [String] {
            var lines: [String] = []
            let deadline = ContinuousClock.now + timeout
            while !condition(lines), ContinuousClock.now < deadline {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 100) > 0 else { continue }
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                let got = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if got < 0 && (errno == EAGAIN || errno == EINTR) { continue }
                if got <= 0 { break }
                pending += buffer[..<got]
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    lines.append(String(decoding: pending[..<newline], as: UTF8.self))
                    pending.removeSubrange(...newline)
                }
            }
            return lines
        }
    }

    static func json(_ line: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]) ?? [:]
    }

    @Test("tail --follow --json during a run: every record true, the missed count told after the reader stalls")
    func followWithStall() async throws {
        try await withUpstream(TraceTests.upstream) { agent, mock in
            let folder = agent.directory
            let fifo = folder.file("tail.fifo")
            #expect(mkfifo(fifo, 0o600) == 0)
            let reader = FIFOReader(path: fifo)
            let tail = try ChildProcess(
                executable: BuiltProducts.modactl,
                arguments: ["--config", agent.configPath, "tail", "--follow", "--json"],
                environment: ChildProcess.cleanEnvironment(),
                stdoutPath: fifo,
                stderrPath: folder.file("tail.err")
            )
            defer { tail.signal(SIGKILL) }
            // Following once the first event's record shows: every later record is either shown or counted.
            let client = try UnixSocketClient(path: agent.socketPath)
            client.keepsFirstId = true
            var idToSeq: [Int: Int] = [:]
            var seq = 0
            func burst(_ count: Int) throws {
                let lines = (0..<count).map { _ in
                    seq += 1
                    return TraceTests.event(seq, conversation: "c\(seq % 7)")
                }
                try client.send(lines.joined(separator: "\n") + "\n")
                let replies = client.readLines(count, timeout: .seconds(30))
                #expect(replies.count == count)
                for (offset, reply) in replies.enumerated() {
                    if let id = ReplyText.firstId(reply) { idToSeq[Int(id)] = seq - count + 1 + offset }
                }
            }
            // The tail may still be starting (a debug modactl on a machine running every suite at once took
            // over 20 s once): one event at a time until its record shows, for at most 90 s.
            var records: [String] = []
            let following = ContinuousClock.now + .seconds(90)
            repeat {
                try burst(1)
                records += reader.read(timeout: .seconds(3)) { $0.contains { $0.contains(#""kind":"accepted""#) } }
            } while !records.contains(where: { $0.contains(#""kind":"accepted""#) }) && ContinuousClock.now < following
            #expect(
                !records.isEmpty,
                "the tail showed nothing: \(String(describing: try? String(contentsOfFile: folder.file("tail.err"), encoding: .utf8)))"
            )
            // The reader stalls while 200,000 events go through, then reads again.
            let started = ContinuousClock.now
            for _ in 0..<200 { try burst(1000) }
            #expect(await mock.waitForDeliveredCount(seq, timeout: .seconds(180)))
            print("tail: 200,000 events acknowledged and delivered past a stalled tail in \(ContinuousClock.now - started)")
            records += reader.read(timeout: .seconds(20)) { $0.contains { $0.contains(#""kind":"missed""#) } }
            for _ in 0..<5 { try burst(100) }
            #expect(await mock.waitForDeliveredCount(seq, timeout: .seconds(30)))
            records += reader.read(timeout: .seconds(3)) { _ in false }

            let parsed = records.map(Self.json)
            let missed = parsed.filter { $0["kind"] as? String == "missed" }.compactMap { $0["count"] as? Int }
            #expect(!missed.isEmpty && missed.allSatisfy { $0 > 0 }, "a stalled tail is told what it missed")
            let accepted = parsed.filter { $0["kind"] as? String == "accepted" }
            #expect(accepted.count > 100, "records came before and after the stall: \(accepted.count)")
            // Every accepted record is an event that was acknowledged with that id, with its own text.
            for record in accepted {
                let id = try #require(record["id"] as? Int)
                let seq = try #require(idToSeq[id], "record for an id never acknowledged: \(record)")
                #expect(record["preview"] as? String == "hello \(seq)")
                #expect(record["conversationId"] as? String == "c\(seq % 7)")
            }
            // Every delivered record names events the upstream received, with the requestId it answered.
            let delivered = parsed.filter { $0["kind"] as? String == "delivered" }
            #expect(!delivered.isEmpty)
            let requests = Dictionary(mock.requests.map { ("req-\($0.number)", $0) }, uniquingKeysWith: { a, _ in a })
            for record in delivered {
                let request = try #require(requests[record["requestId"] as? String ?? ""], "\(record)")
                let runs = (record["ids"] as? [[Int]]) ?? []
                let ids = runs.flatMap { $0[0]...$0[1] }
                #expect(ids.count == record["events"] as? Int && ids.count == request.eventCount)
                let seqs = Set(request.eventsJSON.compactMap { (Self.json($0)["seq"] as? Int) })
                #expect(Set(ids.compactMap { idToSeq[$0] }) == seqs, "the ids of the request that carried them")
            }
        }
    }

    @Test("the tail socket is the daemon user's and root's only: anyone else is refused and told what to do")
    func ownerOnly() async throws {
        guard getuid() == 0 else { return }  // Needs root to run modactl as another user.
        try await withUpstream { agent, _ in
            let socket = TailServer.path(queuePath: agent.queuePath)
            var info = stat()
            // Bound after the ingest socket answers (and owner-only from the start, by the daemon's umask).
            #expect(await waitFor { stat(socket, &info) == 0 && info.st_mode & 0o777 == 0o600 })
            #expect(info.st_mode & 0o777 == 0o600, "mode \(String(info.st_mode & 0o777, radix: 8))")
            // Only the socket's own mode keeps `nobody` out: the folders on the way are opened up.
            for path in [agent.directory.path, agent.directory.file("queue")] { chmod(path, 0o755) }
            chmod(agent.configPath, 0o644)
            let result = try await CommandRunner.run(
                "/usr/bin/setpriv",
                [
                    "--reuid=nobody", "--regid=nogroup", "--clear-groups", BuiltProducts.modactl, "--config",
                    agent.configPath, "tail",
                ]
            )
            #expect(result.status == 1)
            #expect(result.stderr.contains("permission denied on \(socket)"), "\(result.stderr)")
            #expect(result.stderr.contains("sudo modactl tail"), "\(result.stderr)")
            // Root can, and sees what the daemon did.
            _ = try UnixSocketClient.exchange(path: agent.socketPath, TraceTests.event(1) + "\n")
            let mine = try await agent.modactl("tail", "--kind", "accepted")
            #expect(mine.status == 0 && mine.stdout.contains("accepted") && mine.stdout.contains("hello 1"), "\(mine)")
        }
        // No daemon: said plainly.
        let agent = try AgentProcess()
        defer { agent.directory.remove() }
        let none = try await agent.modactl("tail")
        #expect(none.status == 1 && none.stderr.contains("no moda-agent answers"), "\(none.stderr)")
    }
}
