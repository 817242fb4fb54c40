import ArgumentParser
import FoundationEssentials
import ModaAgentCore

#if canImport(Glibc)
import Glibc
#endif

/// The operator's CLI. `--config` may stand anywhere on the command line (docs/operating.md), so it is taken
/// out before ArgumentParser sees the rest. A library, so the installed `modactl` can be a second
/// name of the moda-agent binary (one program in the package instead of two of 27 MB each).
public struct Modactl: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "modactl",
        abstract: "Inspect and operate a moda-agent: status, send, flush, dead letters, redact, trace, tail.",
        discussion: """
            --config PATH may be given anywhere; without it $MODA_AGENT_CONFIG, else /etc/moda-agent/config.json.
            status, dead-letters and trace read the queue database directly and work with the daemon stopped.
            trace follows events by the ids replies carry (firstId); tail shows the flow as it happens.
            """,
        version: AgentVersion.current,
        subcommands: [Status.self, Send.self, Flush.self, DeadLetters.self, Redact.self, Trace.self, Tail.self]
    )

    public init() {}

    public static func main() {
        // Files modactl makes in the queue folder (SQLite's WAL and shared memory) stay private, as the
        // daemon's are, whatever umask the operator's shell has.
        umask(0o077)
        let arguments: [String]
        do {
            arguments = try GlobalOptions.commandLine.get().rest
        } catch {
            StandardError.line("modactl: \(error)")
            Glibc.exit(ExitStatus.usage)
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            exitMappingUsage(error)
        }
    }
}

enum GlobalOptions {
    /// The command line split once, on first use: `--config`'s value and the arguments left for
    /// ArgumentParser. A constant, so every subcommand reads it without shared mutable state.
    static let commandLine: Result<(config: String?, rest: [String]), MissingValue> = {
        var arguments = Array(CommandLine.arguments.dropFirst())
        return Result { () throws(MissingValue) in (try extractConfig(&arguments), arguments) }
    }()

    /// `--config PATH`, wherever it stood on the command line.
    static var configFlag: String? { try? commandLine.get().config }

    struct MissingValue: Error, CustomStringConvertible {
        var description: String { "--config needs a path; see modactl --help" }
    }

    static func extractConfig(_ arguments: inout [String]) throws(MissingValue) -> String? {
        var found: String?
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { break }
            if argument == "--config" {
                guard index + 1 < arguments.count else { throw MissingValue() }
                found = arguments[index + 1]
                arguments.removeSubrange(index...(index + 1))
            } else if argument.hasPrefix("--config=") {
                found = String(argument.dropFirst("--config=".count))
                arguments.remove(at: index)
            } else {
                index += 1
            }
        }
        return found
    }

    /// The config, or exit 78 with the loader's message.
    static func loadConfig() throws -> AgentConfig {
        let path = ConfigLoader.resolvePath(flag: configFlag, environment: ProcessInfo.processInfo.environment)
        do {
            return try ConfigLoader.load(path: path)
        } catch {
            fail(error.description, status: ExitStatus.configuration)
        }
    }
}

extension ParsableCommand {
    /// ArgumentParser exits 64 (EX_USAGE) on usage errors; docs/operating.md fixes 2, as most Unix tools use.
    static func exitMappingUsage(_ error: any Error) -> Never {
        if exitCode(for: error) == .validationFailure {
            let message = fullMessage(for: error)
            StandardError.write(message.isEmpty ? "" : message + "\n")
            Glibc.exit(ExitStatus.usage)
        }
        exit(withError: error)
    }
}

func fail(_ message: String, status: Int32 = ExitStatus.failure) -> Never {
    StandardError.line("modactl: \(message)")
    exit(status)
}

func printJSON(_ value: JSONValue) {
    print(value.pretty())
}
