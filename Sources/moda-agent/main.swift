import ArgumentParser
import Dispatch
import FoundationEssentials
import ModaAgentCore
import ModactlCommands

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's command line; everything else lives in ModaAgentCore.
struct ModaAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moda-agent",
        abstract: "Durable local forwarding agent for the Moda ingest API.",
        discussion: """
            Reads JSON lines on a Unix socket, queues them durably in SQLite and delivers them to Moda.
            The config path is --config, else $MODA_AGENT_CONFIG, else /etc/moda-agent/config.json.
            """,
        version: AgentVersion.current
    )

    @Option(name: .long, help: "Path of the JSON config file.")
    var config: String?

    @Flag(name: .long, help: "Validate the config, print the effective config as JSON and exit (0 valid, 78 invalid).")
    var checkConfig = false

    /// Not `main()`: called from top-level code, that name would pick ParsableCommand's synchronous one.
    static func runAsRoot() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // ArgumentParser exits 64 (EX_USAGE) on usage errors; SPEC 1 fixes 2.
            if exitCode(for: error) == .validationFailure {
                StandardError.line(fullMessage(for: error))
                Glibc.exit(ExitStatus.usage)
            }
            exit(withError: error)
        }
    }

    mutating func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let path = ConfigLoader.resolvePath(flag: config, environment: environment)
        if checkConfig {
            throw ExitCode(ConfigCheck.run(path: path, environment: environment))
        }
        let status = await AgentDaemon.run(configPath: path, environment: environment)
        if status != 0 { throw ExitCode(status) }
    }
}

/// One program, two names: installed as moda-agent and, through a symbolic link, as modactl. The
/// two share nearly all their code, so the package carries one static binary instead of two.
if CommandLine.arguments.first.map({ $0.split(separator: "/").last == "modactl" }) == true {
    Modactl.main()
} else {
    // First, while this is the only thread (see AllocatorTuning).
    AllocatorTuning.apply()
    // Not top-level `await`: an async main gives the main thread to dispatch_main(), which ends it with
    // pthread_exit, and that forced unwind reads the program's unwind tables at every start: 0.6 MiB of pages
    // resident for the daemon's life, for nothing. The main thread waits instead; nothing runs on the main actor.
    let finished = DispatchSemaphore(value: 0)
    Task.detached {
        await ModaAgentCommand.runAsRoot()
        finished.signal()
    }
    finished.wait()
}
