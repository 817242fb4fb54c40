import ArgumentParser
import ModaAgentCore

#if canImport(Glibc)
import Glibc
#endif

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the daemon, queue, dead letters and delivery state."
    )

    @Flag(help: "Print one JSON object (fields per the product spec) instead of text.")
    var json = false

    func run() throws {
        let config = try GlobalOptions.loadConfig()
        let report: StatusReport
        do {
            report = try StatusReport.gather(config: config)
        } catch {
            fail(error.description)
        }
        if json {
            print(report.json())
        } else {
            let color = isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nil
            print(report.text(color: color), terminator: "")
        }
    }
}
