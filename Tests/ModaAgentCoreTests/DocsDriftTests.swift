import Foundation
import ModaAgentTestSupport
import ArgumentParser
import ModactlCommands
import Testing

@testable import ModaAgentCore

/// The reference pages under docs/ against the code: every config key, metric, `modactl` command and exit
/// code the code has is documented, and every one the docs name exists. A key or metric added without its
/// line in docs/ fails here, naming it.
@Suite("docs match the code")
struct DocsDriftTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func read(_ relative: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(relative), encoding: .utf8)
    }

    @Test("every config key is in docs/configuration.md, and every key there is read by the code")
    func configKeys() throws {
        let drift = DocsDrift.compare(
            code: Self.configKeysInCode(),
            documented: DocsDrift.firstColumn(of: try Self.read("docs/configuration.md"), section: "## Every key")
        )
        #expect(drift.isEmpty, "\(drift.report(what: "config key", page: "docs/configuration.md"))")
    }

    @Test("every metric is in docs/monitoring.md, and every metric there is made by the code")
    func metrics() throws {
        let drift = DocsDrift.compare(
            code: try Self.metricsInCode(),
            documented: DocsDrift.firstColumn(of: try Self.read("docs/monitoring.md"), section: "## /metrics")
                .filter { $0.hasPrefix("moda_agent_") }
        )
        #expect(drift.isEmpty, "\(drift.report(what: "metric", page: "docs/monitoring.md"))")
    }

    @Test("every modactl command is in docs/operating.md's table, and every command there exists")
    func commands() throws {
        let documented = DocsDrift.firstColumn(of: try Self.read("docs/operating.md"), section: "# Operating")
            .filter { $0.hasPrefix("modactl ") }
            .map(DocsDrift.commandPath)
        let drift = DocsDrift.compare(code: Set(Self.commands(Modactl.self, prefix: [])), documented: Set(documented))
        #expect(drift.isEmpty, "\(drift.report(what: "modactl command", page: "docs/operating.md"))")
    }

    @Test("every exit code is in docs/operating.md, and every code there is one the programs use")
    func exitCodes() throws {
        let source = try Self.read("Sources/ModaAgentCore/Daemon/ExitStatus.swift")
        let code = Set(DocsDrift.matches(of: #"static let \w+: Int32 = (\d+)"#, in: source))
        let drift = DocsDrift.compare(
            code: code,
            documented: DocsDrift.firstColumn(of: try Self.read("docs/operating.md"), section: "## Exit codes")
        )
        #expect(!code.isEmpty)
        #expect(drift.isEmpty, "\(drift.report(what: "exit code", page: "docs/operating.md"))")
    }

    @Test("the checker names what is missing and what is unknown (a page with a key dropped and one invented)")
    func checkerCatchesDrift() throws {
        let page = try Self.read("docs/configuration.md")
        let dropped = page.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("| `batch.maxEvents` |") }
            .joined(separator: "\n")
            + "\n"
        let invented = dropped.replacingOccurrences(
            of: "## Every key\n",
            with: "## Every key\n\n| `batch.maxEventz` | 1 | any | a typo |\n"
        )
        let code = Self.configKeysInCode()
        let before = DocsDrift.compare(code: code, documented: DocsDrift.firstColumn(of: page, section: "## Every key"))
        let drift = DocsDrift.compare(
            code: code,
            documented: DocsDrift.firstColumn(of: invented, section: "## Every key")
        )
        #expect(drift.missing == (before.missing + ["batch.maxEvents"]).sorted())
        #expect(drift.unknown == (before.unknown + ["batch.maxEventz"]).sorted())
        #expect(drift.report(what: "config key", page: "docs/configuration.md").contains("batch.maxEvents"))
    }

    @Test(
        "the alert rules in docs/monitoring.md load in promtool",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool"))
    )
    func alertRules() async throws {
        let page = try Self.read("docs/monitoring.md")
        let blocks = DocsDrift.codeBlocks(in: page, language: "yaml").filter { $0.hasPrefix("groups:") }
        try #require(blocks.count == 1, "docs/monitoring.md should have one `groups:` block")
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let file = folder.file("rules.yml")
        try blocks[0].write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await CommandRunner.run("/usr/bin/promtool", ["check", "rules", file])
        #expect(result.status == 0, "promtool: \(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("SUCCESS: 4 rules found"), "\(result.stdout)")
    }

    @Test("no comment in Sources or Tests cites a document the repository does not have")
    func noOutsideCitations() throws {
        var offenders: [String] = []
        for folder in ["Sources", "Tests"] {
            let base = Self.root.appendingPathComponent(folder)
            let files = FileManager.default.enumerator(atPath: base.path)?.compactMap { $0 as? String } ?? []
            // This file names the pattern it looks for.
            for file in files where file.hasSuffix(".swift") && !file.hasSuffix("DocsDriftTests.swift") {
                let text = try String(contentsOf: base.appendingPathComponent(file), encoding: .utf8)
                for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                where line.contains("SPEC") && line.range(of: #"SPEC (§|\d)|SPEC:"#, options: .regularExpression) != nil {
                    offenders.append("\(folder)/\(file):\(number + 1)")
                }
            }
        }
        #expect(offenders.isEmpty, "cite a page under docs/ instead: \(offenders.joined(separator: ", "))")
    }

    // MARK: - What the code has

    /// The effective config `--check-config` prints has every key with its default; `apiKey` is printed only
    /// when set, so it is named here.
    static func configKeysInCode() -> Set<String> {
        var config = AgentConfig()
        config.apiKey = "set"
        guard case .object(let root)? = JSONValue.parse(Array(config.effectiveJSON().utf8)) else { return [] }
        var keys: Set<String> = []
        for (key, value) in root {
            if case .object(let section) = value {
                keys.formUnion(section.keys.map { "\(key).\($0)" })
            } else {
                keys.insert(key)
            }
        }
        return keys
    }

    /// Metric names are string literals where the instruments are made.
    static func metricsInCode() throws -> Set<String> {
        let base = root.appendingPathComponent("Sources/ModaAgentCore")
        var names: Set<String> = []
        for file in FileManager.default.enumerator(atPath: base.path)?.compactMap({ $0 as? String }) ?? []
        where file.hasSuffix(".swift") {
            let text = try String(contentsOf: base.appendingPathComponent(file), encoding: .utf8)
            names.formUnion(DocsDrift.matches(of: #""(moda_agent_[a-z0-9_]+)""#, in: text))
        }
        return names
    }

    static func commands(_ command: any ParsableCommand.Type, prefix: [String]) -> [String] {
        let subcommands = command.configuration.subcommands
        guard !subcommands.isEmpty else { return [prefix.joined(separator: " ")] }
        return subcommands.flatMap { commands($0, prefix: prefix + [$0._commandName]) }
    }
}

/// What differs between the names in the code and the names on a page.
struct DocsDrift: Equatable {
    var missing: [String]
    var unknown: [String]

    var isEmpty: Bool { missing.isEmpty && unknown.isEmpty }

    static func compare(code: Set<String>, documented: Set<String>) -> DocsDrift {
        DocsDrift(missing: code.subtracting(documented).sorted(), unknown: documented.subtracting(code).sorted())
    }

    func report(what: String, page: String) -> String {
        var parts: [String] = []
        if !missing.isEmpty { parts.append("in the code but not in \(page): \(missing.joined(separator: ", "))") }
        if !unknown.isEmpty { parts.append("in \(page) but not in the code: \(unknown.joined(separator: ", "))") }
        return "\(what)s drifted: " + parts.joined(separator: "; ")
    }

    /// The first cell of each table row in the part of `page` under `heading`, up to the next heading of the
    /// same or a higher level, without its backticks.
    static func firstColumn(of page: String, section heading: String) -> Set<String> {
        let level = heading.prefix(while: { $0 == "#" }).count
        var inside = false
        var names: Set<String> = []
        for line in page.split(separator: "\n") {
            if line.hasPrefix("#") {
                let lineLevel = line.prefix(while: { $0 == "#" }).count
                if line.hasPrefix(heading) {
                    inside = true
                    continue
                }
                if inside, lineLevel <= level { break }
            }
            guard inside, line.hasPrefix("|") else { continue }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false)
            guard cells.count > 2 else { continue }
            let cell = cells[1].trimmingCharacters(in: .whitespaces)
            guard !cell.isEmpty, !cell.hasPrefix("---"), cell.first != "-" else { continue }
            guard cell.hasPrefix("`") || cell.first?.isNumber == true else { continue }
            names.insert(cell.trimmingCharacters(in: CharacterSet(charactersIn: "`")))
        }
        return names
    }

    /// `modactl dead-letters list [--json]` → `dead-letters list`: the words before the first option or
    /// placeholder.
    static func commandPath(_ usage: String) -> String {
        usage.split(separator: " ").dropFirst()
            .prefix { word in word.first.map { $0.isLowercase } == true }
            .joined(separator: " ")
    }

    static func codeBlocks(in page: String, language: String) -> [String] {
        let parts = page.components(separatedBy: "```")
        return stride(from: 1, to: parts.count, by: 2).compactMap { index in
            let block = parts[index]
            guard block.hasPrefix(language + "\n") else { return nil }
            return String(block.dropFirst(language.count + 1))
        }
    }

    static func matches(of pattern: String, in text: String) -> [String] {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return [] }
        let range = NSRange(text.startIndex..., in: text)
        return regex.matches(in: text, range: range).compactMap { match in
            Range(match.range(at: 1), in: text).map { String(text[$0]) }
        }
    }
}
