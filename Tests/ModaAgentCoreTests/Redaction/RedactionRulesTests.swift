import Foundation
import Testing

@testable import ModaAgentCore

#if canImport(Glibc)
import Glibc
#endif

/// Operator patterns, overlaps, actions and the key file.
@Suite("Redaction: rules, patterns, actions")
struct RedactionRulesTests {
    static func rules(
        _ detectors: [BuiltInDetector] = [],
        patterns: [(String, String)] = [],
        action: AgentConfig.Redaction.Action = .mask,
        keyFile: String? = nil
    ) throws -> RedactionRules {
        var settings = AgentConfig.Redaction()
        settings.detectors = detectors
        settings.patterns = patterns.map { .init(name: $0.0, regex: $0.1) }
        settings.action = action
        settings.hashKeyFile = keyFile
        return try RedactionRules(settings: settings)
    }

    static func redact(_ text: String, _ rules: RedactionRules) -> String {
        var tally = RedactionTally()
        let output = Array(text.utf8).withUnsafeBytes { rules.redact($0, tally: &tally) }
        return output.map { String(decoding: $0, as: UTF8.self) } ?? text
    }

    @Test("an operator pattern is found at every offset, beside other patterns (one Vectorscan database each)")
    func patternsAtEveryOffset() throws {
        let rules = try Self.rules(patterns: [("employee_id", "EMP-[0-9]{6}"), ("customer", "CUST-[0-9]+")])
        for offset in stride(from: 0, through: 4096, by: 7) {
            let text = String(repeating: "x ", count: offset / 2) + "EMP-123456 and CUST-42 end"
            let output = Self.redact(text, rules)
            #expect(output.hasSuffix("[REDACTED:employee_id] and [REDACTED:customer] end"), "offset \(offset)")
        }
    }

    @Test(
        "a pattern the engine cannot run in linear time is a config error naming it",
        arguments: [#"(a)\1"#, "foo(?=bar)", "(?<!x)y", "a*"]
    )
    func refusedPattern(_ regex: String) throws {
        let file = TemporaryFile(
            #"{"apiKey":"k","redaction":{"patterns":[{"name":"ok","regex":"x[0-9]+"},{"name":"bad_one","regex":"\#(regex.replacingOccurrences(of: "\\", with: "\\\\"))"}]}}"#
        )
        #expect(throws: ConfigError.self) { try ConfigLoader.load(path: file.path) }
        do {
            _ = try ConfigLoader.load(path: file.path)
        } catch {
            #expect(error.description.contains("redaction.patterns[1] (bad_one)"), "\(error)")
            #expect(error.description.contains("linear"), "\(error)")
        }
    }

    @Test("(a+)+$ is accepted and runs in linear time")
    func nestedQuantifier() throws {
        let rules = try Self.rules(patterns: [("runs", "(a+)+$")])
        let text = String(repeating: "a", count: 100_000) + "b"
        let clock = ContinuousClock()
        let elapsed = clock.measure { _ = Self.redact(text, rules) }
        #expect(elapsed < .seconds(1), "\(elapsed)")
        #expect(Self.redact("xx aaaa", rules) == "xx [REDACTED:runs]")
    }

    @Test("unknown detectors and bad pattern names are config errors naming them")
    func badConfig() throws {
        let unknown = TemporaryFile(#"{"apiKey":"k","redaction":{"detectors":["secrets","passport"]}}"#)
        do {
            _ = try ConfigLoader.load(path: unknown.path)
            Issue.record("an unknown detector was accepted")
        } catch {
            #expect(error.description.contains("redaction.detectors[1]") && error.description.contains("passport"))
        }
        let badName = TemporaryFile(#"{"apiKey":"k","redaction":{"patterns":[{"name":"a b","regex":"x"}]}}"#)
        #expect(throws: ConfigError.self) { try ConfigLoader.load(path: badName.path) }
        let hashNoKey = TemporaryFile(#"{"apiKey":"k","redaction":{"detectors":["email"],"action":"hash"}}"#)
        #expect(throws: ConfigError.self) { try ConfigLoader.load(path: hashNoKey.path) }
    }

    @Test("overlaps: a card is payment_card not phone, an IPv4 address is ip_address, a pattern wins over both")
    func overlaps() throws {
        let all = try Self.rules(BuiltInDetector.allCases)
        #expect(Self.redact("pay 4111 1111 1111 1111 now", all) == "pay [REDACTED:payment_card] now")
        #expect(Self.redact("host 192.168.100.200 up", all) == "host [REDACTED:ip_address] up")
        #expect(Self.redact("call 415-555-2671", all) == "call [REDACTED:phone]")
        let withPattern = try Self.rules(BuiltInDetector.allCases, patterns: [("ticket", "T-[0-9]{16}")])
        #expect(Self.redact("see T-4111111111111111", withPattern) == "see [REDACTED:ticket]")
    }

    @Test("hash: [NAME:HEX], the first 16 hex digits of HMAC-SHA256 under the key, equal for equal values")
    func hashTokens() throws {
        let key = TemporaryFile("  secret-key\n", mode: 0o600)
        let rules = try Self.rules([.email], action: .hash, keyFile: key.path)
        let first = Self.redact("mail jane@example.com", rules)
        // HMAC-SHA256(key "secret-key", "jane@example.com"), computed with openssl dgst -sha256 -hmac.
        #expect(first == "mail [email:\(try Self.opensslHMAC(key: "secret-key", "jane@example.com").prefix(16))]")
        let again = try Self.rules([.email], action: .hash, keyFile: key.path)
        #expect(Self.redact("to jane@example.com", again) == "to [email:\(first.dropFirst(12).dropLast(1))]")
        #expect(Self.redact("to john@example.com", again) != "to [email:\(first.dropFirst(12).dropLast(1))]")
    }

    static func opensslHMAC(key: String, _ text: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["dgst", "-sha256", "-hmac", key, "-r"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        let answer = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return String(answer.prefix(64))
    }

    @Test("a key file group or others may read is refused, naming it", arguments: [0o640, 0o604, 0o660, 0o644])
    func openKeyFile(_ mode: Int) throws {
        let key = TemporaryFile("k", mode: mode_t(mode))
        #expect(throws: ConfigError.self) { try Self.rules([.email], action: .hash, keyFile: key.path) }
        do {
            _ = try Self.rules([.email], action: .hash, keyFile: key.path)
        } catch {
            #expect("\(error)".contains(key.path) && "\(error)".contains("chmod 600"), "\(error)")
        }
    }
}

/// A file in a temporary folder, removed when the value goes.
final class TemporaryFile {
    let folder: String
    let path: String

    init(_ contents: String, mode: mode_t = 0o600) {
        folder = NSTemporaryDirectory() + "redaction-" + UUID().uuidString.prefix(8)
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        path = folder + "/file"
        _ = FileManager.default.createFile(atPath: path, contents: Data(contents.utf8))
        chmod(path, mode)
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }
}

/// SIGHUP: the rules are swapped whole; lines prepared afterwards get the new ones.
@Suite("Redaction: reload")
struct RedactionReloadTests {
    @Test("reload turns rules on, changes them and turns them off; a bad reload keeps the running rules")
    func reload() throws {
        let redactor = try Redactor(settings: AgentConfig.Redaction())
        let validator = EventValidator(maxEventBytes: 10_000, defaultEnvironment: nil, redactor: redactor)
        let line = Array(#"{"conversation_id":"c","role":"user","message":"jane@example.com 4111111111111111"}"#.utf8)
        func stored() -> String {
            guard case .success(let events) = validator.prepare(line: line, receivedAt: "2026-01-01T00:00:00.000Z")
            else { return "" }
            return String(decoding: events[0].body, as: UTF8.self)
        }
        #expect(stored().contains("jane@example.com 4111111111111111"))
        var settings = AgentConfig.Redaction()
        settings.detectors = [.email]
        try redactor.reload(settings, configPath: "config")
        #expect(stored().contains("[REDACTED:email] 4111111111111111"))
        settings.detectors = [.email, .paymentCard]
        try redactor.reload(settings, configPath: "config")
        #expect(stored().contains("[REDACTED:email] [REDACTED:payment_card]"))
        var broken = settings
        broken.action = .hash
        broken.hashKeyFile = "/nonexistent/key"
        #expect(throws: ConfigError.self) { try redactor.reload(broken, configPath: "config") }
        #expect(stored().contains("[REDACTED:email] [REDACTED:payment_card]"))
        try redactor.reload(AgentConfig.Redaction(), configPath: "config")
        #expect(stored().contains("jane@example.com 4111111111111111"))
    }

    @Test("an event made longer than batch.maxEventBytes by its replacements is refused as too large")
    func tooLargeOnceRedacted() throws {
        var settings = AgentConfig.Redaction()
        settings.detectors = [.email]
        let line = #"{"conversation_id":"c","role":"user","message":"a@b.co"}"#
        let validator = EventValidator(
            maxEventBytes: line.utf8.count + 40,
            defaultEnvironment: nil,
            redactor: try Redactor(settings: settings)
        )
        let outcome = validator.prepare(line: Array(line.utf8), receivedAt: "2026-01-01T00:00:00.000Z")
        guard case .failure(let rejection) = outcome else {
            Issue.record("accepted: \(outcome)")
            return
        }
        #expect(rejection.isTooLarge && rejection.message.contains("once redacted"), "\(rejection.message)")
    }
}
