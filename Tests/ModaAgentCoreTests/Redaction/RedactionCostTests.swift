import Foundation
import Testing

@testable import ModaAgentCore

/// Pathological input costs time linear in its size: the per-KiB cost at 100 KiB stays near the one at 1 KiB.
@Suite("Redaction: cost is linear in the text", .serialized)
struct RedactionCostTests {
    static let inputs: [(String, @Sendable (Int) -> String)] = [
        ("digits", { String(repeating: "4", count: $0) }),
        ("digits in groups", { String(String(repeating: "4111 ", count: $0 / 5 + 1).prefix($0)) }),
        ("@", { String(repeating: "@", count: $0) }),
        ("a@b.", { String(String(repeating: "a@b.", count: $0 / 4 + 1).prefix($0)) }),
        (
            "base64",
            { size in
                let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
                return String((0..<size).map { alphabet[($0 * 7 + $0 / 3) % 64] })
            }
        ),
        ("eyJ.", { String(String(repeating: "eyJhbGci.", count: $0 / 9 + 1).prefix($0)) }),
        (
            "-----BEGIN PRIVATE KEY-----",
            { String(String(repeating: "-----BEGIN RSA PRIVATE KEY-----", count: $0 / 31 + 1).prefix($0)) }
        ),
        ("dotted", { String(String(repeating: "1.2.", count: $0 / 4 + 1).prefix($0)) }),
        ("colons", { String(String(repeating: "a:", count: $0 / 2 + 1).prefix($0)) }),
        ("aaaa for (a+)+$", { String(repeating: "a", count: $0) }),
    ]

    /// Best of several runs, in nanoseconds per KiB.
    static func nanosecondsPerKiB(_ text: String, _ rules: RedactionRules) -> Double {
        let bytes = Array(text.utf8)
        let clock = ContinuousClock()
        let repeats = max(1, 200_000 / bytes.count)
        var best = Duration.seconds(1_000)
        for _ in 0..<5 {
            let elapsed = clock.measure {
                for _ in 0..<repeats {
                    var tally = RedactionTally()
                    _ = bytes.withUnsafeBytes { rules.redact($0, tally: &tally) }
                }
            }
            best = min(best, elapsed / repeats)
        }
        let nanoseconds = Double(best.components.seconds) * 1e9 + Double(best.components.attoseconds) / 1e9
        return nanoseconds / (Double(bytes.count) / 1024)
    }

    @Test("per-KiB cost flat from 1 KiB to 100 KiB, every detector and a nested-quantifier pattern on")
    func linear() throws {
        var settings = AgentConfig.Redaction()
        settings.detectors = BuiltInDetector.allCases
        settings.patterns = [.init(name: "runs", regex: "(a+)+$")]
        let rules = try RedactionRules(settings: settings)
        for (name, make) in Self.inputs {
            let small = Self.nanosecondsPerKiB(make(1024), rules)
            let medium = Self.nanosecondsPerKiB(make(10 * 1024), rules)
            let large = Self.nanosecondsPerKiB(make(100 * 1024), rules)
            print(
                String(
                    format: "redaction cost %@: %.0f ns/KiB at 1 KiB, %.0f at 10 KiB, %.0f at 100 KiB (ratio %.2f)",
                    name,
                    small,
                    medium,
                    large,
                    large / small
                )
            )
            // Quadratic work would make the 100 KiB figure 100 times the 1 KiB one; allow noise and cache effects.
            #expect(large / small < 3, "\(name): \(small) ns/KiB at 1 KiB, \(large) at 100 KiB")
        }
    }
}
