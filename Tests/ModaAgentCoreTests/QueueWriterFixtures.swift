import ModaAgentTestSupport

@testable import ModaAgentCore

/// A queue writer on a new queue in a test's folder, and a submission awaited until it is answered.
enum QueueWriterFixtures {
    static func writer(
        _ folder: TemporaryDirectory,
        maxBytes: Int = 1 << 30,
        whenFull: AgentConfig.WhenFull = .reject
    ) throws -> (QueueWriter, String) {
        var config = AgentConfig.Queue()
        config.path = folder.file("q/queue.db")
        config.maxBytes = maxBytes
        config.whenFull = whenFull
        let db = try QueueDatabase.open(path: config.path, durability: .full, create: true)
        return (try QueueWriter(db: db, config: config), config.path)
    }

    static func submit(_ writer: QueueWriter, _ lines: [[PreparedEvent]]) async -> [QueueWriter.Outcome] {
        await withCheckedContinuation { continuation in
            writer.submit(lines: lines, receivedAt: 1000) { continuation.resume(returning: $0) }
        }
    }
}
