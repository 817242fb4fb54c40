import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn and reaped with waitpid. The tests start hundreds of
/// processes from many tasks at once; Foundation's `Process` then sometimes misses a child's exit
/// on Linux (a zombie it never reaps, `isRunning` true forever), which would hang a test run.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    private let exitStatus = NIOLockedValueBox<Int32?>(nil)

    /// `stdinPath`, `stdoutPath` and `stderrPath` name files (nil: /dev/null); output is appended.
    public init(
        executable: String,
        arguments: [String],
        environment: [String: String],
        stdinPath: String? = nil,
        stdoutPath: String? = nil,
        stderrPath: String? = nil
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdinPath ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        // Nothing else of the test process leaks into the child (listening sockets would keep ports bound).
        _ = addCloseFrom(&actions, 3)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, &actions, nil, argv, envp)
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .ENOENT) }
        pid = child
    }

    /// The exit status (128 + signal number when killed by a signal), or nil while running.
    public var terminationStatus: Int32? {
        exitStatus.withLockedValue { known in
            if let known { return known }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
            known = Self.decode(status)
            return known
        }
    }

    public var isRunning: Bool { terminationStatus == nil }

    /// Blocks until the child exits (for short commands run from synchronous code); its status.
    public func waitUntilExit() -> Int32 {
        exitStatus.withLockedValue { known in
            if let known { return known }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            let code = Self.decode(status)
            known = code
            return code
        }
    }

    /// waitpid's status as a shell reports it: the exit code, or 128 + the signal that killed it.
    private static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }

    public func signal(_ number: Int32) {
        if isRunning { kill(pid, number) }
    }

    /// Waits (bounded) for the exit; its status, or nil if it still runs.
    public func waitForExit(timeout: Duration) async -> Int32? {
        _ = await waitFor(timeout: timeout, every: .milliseconds(5)) { !isRunning }
        return terminationStatus
    }

    /// The environment of this test process, minus what would change the child's behaviour.
    public static func cleanEnvironment(removing names: [String] = []) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for name in [
            "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "JOURNAL_STREAM", "WATCHDOG_USEC",
            "WATCHDOG_PID", "MODA_API_KEY", "MODA_AGENT_CONFIG", "CREDENTIALS_DIRECTORY",
            // A proxy of the machine running the tests would route their loopback traffic through it.
            "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
        ] + names {
            environment.removeValue(forKey: name)
        }
        return environment
    }
}

/// glibc ≥ 2.34 has it, but the Glibc module does not export it.
@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
private func addCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ lowest: Int32) -> Int32
