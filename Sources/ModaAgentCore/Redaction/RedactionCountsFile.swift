import Dispatch
import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// The running daemon's redaction counts, kept in a small file beside the queue (`<queue>-redaction.json`,
/// counts only, never text) so that `modactl status` shows them whether or not monitoring listens. Written at
/// most once a second, when they changed.
public enum RedactionCountsFile {
    public struct Counts: Codable, Sendable, Equatable {
        public var pid: Int32
        public var redactedEvents: Int
        public var findings: [String: Int]
    }

    public static func path(forQueue queuePath: String) -> String { queuePath + "-redaction.json" }

    /// The counts the daemon `pid` recorded; nil when it recorded none.
    public static func read(queuePath: String, pid: Int32) -> Counts? {
        guard let handle = fopen(path(forQueue: queuePath), "rb") else { return nil }
        defer { fclose(handle) }
        var bytes = [UInt8](repeating: 0, count: 65536)
        let count = fread(&bytes, 1, bytes.count, handle)
        guard count > 0, let counts = try? JSONDecoder().decode(Counts.self, from: Data(bytes[0..<count])),
            counts.pid == pid
        else { return nil }
        return counts
    }

    /// Starts a timer writing `redactor`'s counts; `stop()` ends it.
    public static func recorder(for redactor: Redactor, queuePath: String) -> Recorder {
        Recorder(redactor: redactor, path: path(forQueue: queuePath))
    }

    public final class Recorder: @unchecked Sendable {
        // @unchecked: `written` is touched only on `queue` (the timer's handler); `timer` is set in init and
        // only cancelled afterwards.
        private let queue = DispatchQueue(label: "moda-agent.redaction-counts")
        private let timer: any DispatchSourceTimer
        private var written: Counts? = nil

        init(redactor: Redactor, path: String) {
            timer = DispatchSource.makeTimerSource(queue: queue)
            timer.schedule(deadline: .now() + 1, repeating: 1)
            timer.setEventHandler { [weak self] in
                guard let self else { return }
                let counts = Counts(
                    pid: getpid(),
                    redactedEvents: redactor.counts.redactedEvents.load(ordering: .relaxed),
                    findings: redactor.counts.perDetector
                )
                guard counts.redactedEvents > 0, counts != self.written,
                    let data = try? JSONEncoder().encode(counts)
                else { return }
                let temporary = path + ".tmp"
                guard let handle = fopen(temporary, "wb") else { return }
                let complete = data.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, handle) == $0.count }
                fclose(handle)
                if complete, rename(temporary, path) == 0 { self.written = counts }
            }
            timer.resume()
        }

        public func stop() { timer.cancel() }
    }
}
