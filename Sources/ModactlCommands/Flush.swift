import ArgumentParser
import ModaAgentCore

#if canImport(Glibc)
import Glibc
#endif

/// Reaches the daemon with SIGUSR1: the pid comes from the queue lock, so no second socket or
/// protocol is needed, and only a user allowed to signal the daemon can make it flush.
struct Flush: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask the running daemon to deliver now, skipping any backoff wait."
    )

    func run() throws {
        let config = try GlobalOptions.loadConfig()
        let lockPath = QueueLock.lockPath(forQueue: config.queue.path)
        guard let pid = QueueLock.holder(path: lockPath) else {
            fail(
                "no moda-agent is running for the queue \(config.queue.path); start it with \(StartHint.start())"
            )
        }
        guard kill(pid, SIGUSR1) == 0 else {
            fail(
                "cannot signal moda-agent (pid \(pid)): \(String(cString: strerror(errno))); run modactl as root or as the daemon's user"
            )
        }
        print("asked moda-agent (pid \(pid)) to deliver now; see `modactl status`")
    }
}
