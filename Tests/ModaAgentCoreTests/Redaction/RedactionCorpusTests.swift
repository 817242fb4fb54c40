import Foundation
import Testing

@testable import ModaAgentCore

/// The labelled corpus (at least 200 true findings and 200 look-alikes per detector), each sample put in a
/// sentence in one of the JSON places of every event shape, through the validator as the daemon runs it.
/// Precision and recall are printed per detector and must be at least 0.99.
@Suite("Redaction: labelled corpus")
struct RedactionCorpusTests {
    static let perDetector = 210

    /// Where a sample goes: an event line with `$` where the JSON-escaped sentence goes.
    static let places: [String] = [
        #"{"conversation_id":"c1","role":"user","message":"$"}"#,
        #"{"conversation_id":"c1","role":"assistant","content":"$"}"#,
        #"{"conversation_id":"c1","role":"user","content":[{"type":"text","text":"$"}]}"#,
        #"{"conversation_id":"c1","role":"assistant","content":[{"type":"thinking","text":"$"}]}"#,
        #"{"conversation_id":"c1","role":"assistant","content":[{"type":"tool_use","tool_use_id":"t1","tool_name":"search","input":{"query":"$"}}]}"#,
        #"{"conversation_id":"c1","role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"$"}]}"#,
        #"{"conversation_id":"c1","role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"$"}]}]}"#,
        #"{"conversation_id":"c1","role":"user","message":"hi","content_blocks":[{"type":"text","text":"$"}]}"#,
        #"{"conversation_id":"c1","role":"user","message":"hi","metadata":{"note":"$"}}"#,
        #"{"conversation_id":"c1","role":"user","message":"hi","metadata":{"role":"$","name":"$"}}"#,
        #"{"conversation_id":"c1","role":"user","message":"hi","notes":{"deep":[1,{"x":"$"}]}}"#,
        #"{"conversation_id":"c1","role":"user","message":"hi","unknown_field":"$"}"#,
        #"{"messageType":"channel","id":"m1","conversationId":"c1","role":"user","message":"$"}"#,
        #"{"messageType":"tool_call","id":"m1","conversationId":"c1","name":"lookup","toolCallRequest":{"args":{"q":"$"}}}"#,
        #"{"messageType":"tool_call","id":"m1","conversationId":"c1","name":"lookup","toolCallResponse":"$"}"#,
        #"{"messageType":"email","id":"m1","conversationId":"c1","role":"user","body":"hello","subject":"$"}"#,
        #"{"messageType":"email","id":"m1","conversationId":"c1","role":"user","body":"$"}"#,
        #"{"messageType":"email","id":"m1","conversationId":"c1","role":"user","body":"b","from":"$"}"#,
        #"{"messageType":"email","id":"m1","conversationId":"c1","role":"user","body":"b","to":["ok","$"]}"#,
        #"{"messageType":"call","id":"m1","conversationId":"c1","transcript":[{"role":"user","content":"$"}]}"#,
        #"{"messageType":"call","id":"m1","conversationId":"c1","transcript":[{"role":"user","content":"hi"}],"metadata":{"notes":["$"]}}"#,
        #"{"events":[{"conversation_id":"c1","role":"user","message":"first"},{"conversation_id":"c2","role":"user","message":"$"}]}"#,
    ]

    /// The sentence around a sample.
    static let sentences: [String] = [
        "$", "my value is $.", "($)", "$, thanks", "he said \"$\" twice", "line one\n$\nline three", "note: $ end",
    ]

    struct Score: CustomStringConvertible {
        var truePositives = 0
        var falseNegatives = 0
        var falsePositives = 0
        var trueNegatives = 0
        var misses: [String] = []

        var precision: Double { Double(truePositives) / Double(max(1, truePositives + falsePositives)) }
        var recall: Double { Double(truePositives) / Double(max(1, truePositives + falseNegatives)) }

        var description: String {
            String(
                format: "precision %.4f recall %.4f (tp %d, fn %d, fp %d, tn %d)",
                precision,
                recall,
                truePositives,
                falseNegatives,
                falsePositives,
                trueNegatives
            )
        }
    }

    static func jsonEscaped(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    static func score(_ detector: BuiltInDetector, enabled: [BuiltInDetector], seed: UInt64) throws -> Score {
        var settings = AgentConfig.Redaction()
        settings.detectors = enabled
        let validator = EventValidator(
            maxEventBytes: 1_000_000,
            defaultEnvironment: nil,
            redactor: try Redactor(settings: settings)
        )
        var corpus = RedactionCorpus(seed: seed)
        var score = Score()
        let marker = "[REDACTED:\(detector.rawValue)]"
        for (index, sample) in corpus.samples(for: detector, count: perDetector).enumerated() {
            let sentence = sentences[index % sentences.count].replacingOccurrences(of: "$", with: sample.text)
            let line = places[(index / 2) % places.count].replacingOccurrences(of: "$", with: jsonEscaped(sentence))
            guard
                case .success(let events) = validator.prepare(
                    line: Array(line.utf8),
                    receivedAt: "2026-01-01T00:00:00.000Z"
                )
            else {
                Issue.record("the corpus line was refused: \(line)")
                continue
            }
            let stored = events.map { String(decoding: $0.body, as: UTF8.self) }.joined(separator: "\n")
            let flagged = stored.contains(marker)
            let gone = !stored.contains(jsonEscaped(sample.text))
            if sample.isFinding {
                if flagged && gone {
                    score.truePositives += 1
                } else {
                    score.falseNegatives += 1
                    score.misses.append("missed \(sample.kind): \(stored)")
                }
            } else if flagged {
                score.falsePositives += 1
                score.misses.append("flagged \(sample.kind): \(stored)")
            } else {
                score.trueNegatives += 1
            }
        }
        return score
    }

    @Test("each detector alone: precision and recall at least 0.99", arguments: BuiltInDetector.allCases)
    func detectorAlone(_ detector: BuiltInDetector) throws {
        let score = try Self.score(
            detector,
            enabled: [detector],
            seed: 0x5EED_0000 + UInt64(BuiltInDetector.allCases.firstIndex(of: detector) ?? 0)
        )
        print("redaction corpus \(detector.rawValue) alone: \(score)")
        #expect(score.truePositives >= 200 && score.trueNegatives + score.falsePositives >= 200)
        #expect(
            score.precision >= 0.99 && score.recall >= 0.99,
            "\(score)\n\(score.misses.prefix(8).joined(separator: "\n"))"
        )
    }

    @Test("all detectors on: each true finding is named by its own detector", arguments: BuiltInDetector.allCases)
    func allDetectors(_ detector: BuiltInDetector) throws {
        let score = try Self.score(detector, enabled: BuiltInDetector.allCases, seed: 0xA11_0000)
        print("redaction corpus \(detector.rawValue) with all detectors on: \(score)")
        #expect(score.recall >= 0.99, "\(score)\n\(score.misses.prefix(8).joined(separator: "\n"))")
    }
}
