import ArgumentParser
import ModaAgentCore

#if canImport(Glibc)
import Glibc
#endif

struct Tail: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The daemon's flow as it happens: events accepted, requests delivered or refused, lines rejected.",
        discussion: """
            Without --follow, the latest records; with it, every record until interrupted. Previews are the text \
            as stored (redacted). Talks to the daemon's tail socket beside the queue (mode 0600: root and the \
            daemon's user only). A tail that cannot keep up never slows the daemon: records it cannot take are \
            dropped, and it is told how many ("missed"). See also: modactl trace.
            """
    )

    @Flag(name: [.short, .long], help: "Keep printing records as they happen.") var follow = false
    @Option(help: "Only records of this conversation_id.") var conversation: String?
    @Option(
        help: "Only records of these kinds: accepted, delivered, dead-lettered, rejected (repeat or comma-separate)."
    )
    var kind: [String] = []
    @Flag(help: "Print each record as one JSON object per line.") var json = false

    private var kinds: [String]? {
        let names = kind.flatMap { $0.split(separator: ",").map { String($0) } }
        return names.isEmpty ? nil : names
    }

    func validate() throws {
        for name in kinds ?? [] where TailRecord.Kind(rawValue: name) == nil {
            throw ValidationError("--kind \(name): use accepted, delivered, dead-lettered or rejected")
        }
    }

    func run() throws {
        let config = try GlobalOptions.loadConfig()
        let client: TailClient
        do {
            client = try TailClient(socketPath: TailServer.path(queuePath: config.queue.path))
        } catch {
            fail(error.description)
        }
        client.request(follow: follow, conversation: conversation, kinds: kinds)
        var printed = 0
        while let line = client.nextLine() {
            if line == #"{"kind":"following"}"# { continue }
            // Straight to the file descriptor, not stdio's buffer: a pipe reader sees each record at once.
            guard Self.write((json ? line : TailText.render(line)) + "\n") else { return }
            printed += 1
        }
        if !follow && printed == 0 {
            print("nothing yet: no events accepted, delivered or rejected since the daemon started")
        }
    }

    /// False once stdout is closed (the reader went away).
    private static func write(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }
}
