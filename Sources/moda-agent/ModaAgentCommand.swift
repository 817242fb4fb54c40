import ArgumentParser
import FoundationEssentials
import ModaAgentCore

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
            // ArgumentParser exits 64 (EX_USAGE) on usage errors; docs/operating.md fixes 2.
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
