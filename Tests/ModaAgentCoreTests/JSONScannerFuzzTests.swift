import Foundation
import ModaAgentTestSupport
import Testing

@testable import ModaAgentCore

/// Differential fuzzing: for syntax, `JSONScanner` must accept exactly what Foundation's `JSONSerialization`
/// accepts (with `.fragmentsAllowed`), on generated and mutated inputs, within a fixed time budget.
///
/// Known, deliberate differences of Foundation on Linux, excluded below rather than copied:
/// - it accepts a trailing comma (`[1,]`, `{"a":1,}`), which RFC 8259 does not allow;
/// - it rejects numbers beyond Double's range ("Number 1e400 is not representable in Swift"), which are valid
///   JSON and which the ingest API may receive;
/// - it skips a UTF-8 byte order mark before the value, which RFC 8259 says a parser may but a sender must
///   not use; the agent's lines are plain UTF-8, so it is rejected;
/// - it guesses UTF-16 or UTF-32 when one of the first four bytes is NUL (so `\0 2` parses as "2"); the agent
///   reads UTF-8 only, where a NUL outside a string is malformed.
/// Both reject lone surrogate escapes, raw control characters in strings and nesting deeper than 512.
@Suite struct JSONScannerFuzzTests {
    static let seed: UInt64 = 0x6D6F_6461_2D61_6765
    static let budget = Duration.seconds(2)

    @Test func scannerAgreesWithFoundation() throws {
        var random = SeededGenerator(seed: Self.seed)
        var stats = Stats()
        let clock = ContinuousClock()
        let start = clock.now
        let validator = EventValidator(maxEventBytes: 1_000_000, defaultEnvironment: "fuzz")
        while clock.now - start < Self.budget {
            var input = JSONGenerator.value(using: &random, depth: 0).utf8Bytes(using: &random)
            switch random.next() % 4 {
            case 0: break
            case 1, 2: input = Mutator.mutate(input, using: &random)
            default: input = Mutator.mutate(Mutator.mutate(input, using: &random), using: &random)
            }
            if random.next() % 50 == 0 { input = Mutator.nesting(using: &random) }
            if random.next() % 200 == 0 { input = [0xEF, 0xBB, 0xBF] + input }
            try compare(input, &stats)
            checkValidatorNeverFailsOpen(input, validator)
        }
        print("JSON fuzz: \(stats)")
        #expect(stats.mismatches.isEmpty, "\(stats.mismatches.prefix(5).map { String(decoding: $0, as: UTF8.self) })")
        #expect(stats.total > 1_000)
        #expect(stats.bothAccept > 100 && stats.bothReject > 100)
    }

    private func compare(_ input: [UInt8], _ stats: inout Stats) throws {
        stats.total += 1
        let utf8Valid = input.withUnsafeBytes { UTF8Validation.firstInvalidOffset(in: $0) } == nil
        // The standard library's decoder repairs exactly the invalid sequences, so a round trip is lossless
        // only for valid UTF-8.
        let roundTrips = Array(String(decoding: input, as: UTF8.self).utf8) == input
        #expect(utf8Valid == roundTrips, "UTF-8 verdict differs from Swift's")
        let ours = utf8Valid && input.withUnsafeBytes { JSONScanner.validateSyntax($0) } == nil
        var foundationError: NSError?
        do {
            _ = try JSONSerialization.jsonObject(with: Data(input), options: .fragmentsAllowed)
        } catch {
            foundationError = error as NSError
        }
        let theirs = foundationError == nil
        switch (ours, theirs) {
        case (true, true): stats.bothAccept += 1
        case (false, false): stats.bothReject += 1
        case (false, true) where input.starts(with: [0xEF, 0xBB, 0xBF]):
            stats.excludedByteOrderMark += 1
        case (false, true) where input.prefix(4).contains(0):
            stats.excludedEncodingGuess += 1
        case (false, true) where Self.scannerAccepts(Mutator.removingTrailingCommas(input)):
            // Exactly the trailing commas made the difference.
            stats.excludedTrailingComma += 1
        case (true, false)
        where (foundationError?.userInfo[NSDebugDescriptionErrorKey] as? String)?.contains("not representable") == true
            && Self.foundationAccepts(Mutator.replacingNumbers(input)):
            // Exactly a number out of Double's range made the difference.
            stats.excludedHugeNumber += 1
        default:
            stats.mismatches.append(input)
        }
    }

    private static func scannerAccepts(_ input: [UInt8]) -> Bool {
        input.withUnsafeBytes { JSONScanner.validateSyntax($0) } == nil
    }

    private static func foundationAccepts(_ input: [UInt8]) -> Bool {
        (try? JSONSerialization.jsonObject(with: Data(input), options: .fragmentsAllowed)) != nil
    }

    /// Whatever the input, `prepare` returns; anything it accepts is stored as valid JSON objects.
    private func checkValidatorNeverFailsOpen(_ input: [UInt8], _ validator: EventValidator) {
        guard case .success(let events) = validator.prepare(line: input, receivedAt: "2026-01-01T00:00:00.000Z") else {
            return
        }
        for event in events {
            let object = (try? JSONSerialization.jsonObject(with: Data(event.body))) as? [String: Any]
            #expect(object?["timestamp"] != nil && object?["environment"] != nil)
        }
    }

    /// Every input a valid event could come from is also checked against the byte-level rules above: generate
    /// events directly too, so the schema path sees mutations of realistic lines.
    @Test func mutatedEventsNeverCrashTheValidator() {
        var random = SeededGenerator(seed: Self.seed ^ 0xFFFF)
        let validator = EventValidator(maxEventBytes: 10_000, defaultEnvironment: nil)
        let base = Array(
            (#"{"environment":"e","events":[{"conversation_id":"c","role":"user","content":[{"type":"text","text":"t"},"#
                + #"{"type":"tool_result","tool_use_id":"x","is_error":true,"content":{"a":[1]}}],"timestamp":null},"#
                + #"{"messageType":"call","id":"i","conversationId":"c","transcript":[{"role":"a","content":"b"}],"#
                + #""duration":1.5e2,"callType":"video","metadata":{"k":"\u00e9\ud83d\ude00"}}]}"#).utf8
        )
        #expect(validator.prepare(line: base, receivedAt: "t").map(\.count) == .success(2))
        let clock = ContinuousClock()
        let start = clock.now
        var accepted = 0
        var runs = 0
        while clock.now - start < .milliseconds(500) {
            var input = base
            for _ in 0...(random.next() % 3) { input = Mutator.mutate(input, using: &random) }
            if case .success(let events) = validator.prepare(line: input, receivedAt: "t") {
                accepted += 1
                for event in events {
                    #expect((try? JSONSerialization.jsonObject(with: Data(event.body))) is [String: Any])
                }
            }
            runs += 1
        }
        print("event fuzz: \(runs) runs, \(accepted) accepted")
        #expect(runs > 100)
    }
}

private struct Stats: CustomStringConvertible {
    var total = 0
    var bothAccept = 0
    var bothReject = 0
    var excludedTrailingComma = 0
    var excludedHugeNumber = 0
    var excludedByteOrderMark = 0
    var excludedEncodingGuess = 0
    var mismatches: [[UInt8]] = []

    var description: String {
        "\(total) inputs: \(bothAccept) accepted by both, \(bothReject) rejected by both, excluded: "
            + "\(excludedTrailingComma) trailing comma, \(excludedHugeNumber) number beyond Double, "
            + "\(excludedByteOrderMark) byte order mark, \(excludedEncodingGuess) read as UTF-16/32; "
            + "\(mismatches.count) mismatches"
    }
}

/// Random JSON values, serialized with random whitespace and random (valid) escapes.
private indirect enum JSONGenerator {
    case null, bool(Bool), number(String), string([String]), array([JSONGenerator]), object([([String], JSONGenerator)])

    static func value(using random: inout SeededGenerator, depth: Int) -> JSONGenerator {
        let choice = depth > 4 ? random.next() % 4 : random.next() % 6
        switch choice {
        case 0: return .null
        case 1: return .bool(random.next() % 2 == 0)
        case 2: return .number(number(using: &random))
        case 3: return .string(stringPieces(using: &random))
        case 4:
            return .array((0..<Int(random.next() % 5)).map { _ in value(using: &random, depth: depth + 1) })
        default:
            return .object(
                (0..<Int(random.next() % 5)).map { _ in
                    (stringPieces(using: &random), value(using: &random, depth: depth + 1))
                }
            )
        }
    }

    static func number(using random: inout SeededGenerator) -> String {
        let numbers = [
            "0", "-0", "1", "-1", "42", "3.14", "-0.5", "1e10", "1E-7", "2.5e+3", "123456789012345678901234567890",
            "1e308", "1e309", "-1e400", "1e-400", "0.000001", "9007199254740993", "1.7976931348623157e308", "5e-324",
        ]
        return numbers[Int(random.next() % UInt64(numbers.count))]
    }

    static func stringPieces(using random: inout SeededGenerator) -> [String] {
        let pieces = [
            "a", "key", " ", "é", "€", "😀", "中", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u0000",
            "\\u00e9", "\\uD83D\\uDE00", "\\udbff\\udfff", "\u{7F}", "'", "role", "events",
        ]
        return (0..<Int(random.next() % 6)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }
    }

    func utf8Bytes(using random: inout SeededGenerator) -> [UInt8] {
        var out: [UInt8] = []
        write(to: &out, using: &random)
        return out
    }

    private func write(to out: inout [UInt8], using random: inout SeededGenerator) {
        func space() {
            let spaces: [String] = ["", "", "", " ", "\n", "\t", "\r\n", "  "]
            out += Array(spaces[Int(random.next() % UInt64(spaces.count))].utf8)
        }
        space()
        switch self {
        case .null: out += Array("null".utf8)
        case .bool(let value): out += Array((value ? "true" : "false").utf8)
        case .number(let text): out += Array(text.utf8)
        case .string(let pieces): out += Array(("\"" + pieces.joined() + "\"").utf8)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                element.write(to: &out, using: &random)
            }
            space()
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                space()
                out += Array(("\"" + member.0.joined() + "\"").utf8)
                space()
                out.append(UInt8(ascii: ":"))
                member.1.write(to: &out, using: &random)
            }
            space()
            out.append(UInt8(ascii: "}"))
        }
        space()
    }
}

/// Byte-level mutations that tend to hit grammar edges.
private enum Mutator {
    static let interesting =
        Array(#"{}[]",:\ 0123456789eE+-.tfnrul"#.utf8) + [0x00, 0x01, 0x1F, 0x7F, 0x80, 0xC3, 0xA9, 0xED, 0xFF]

    static func mutate(_ input: [UInt8], using random: inout SeededGenerator) -> [UInt8] {
        var bytes = input
        let position = bytes.isEmpty ? 0 : Int(random.next() % UInt64(bytes.count))
        let byte =
            random.next() % 4 == 0
            ? UInt8(truncatingIfNeeded: random.next()) : interesting[Int(random.next() % UInt64(interesting.count))]
        switch random.next() % 6 {
        case 0 where !bytes.isEmpty: bytes[position] = byte
        case 1: bytes.insert(byte, at: position)
        case 2 where !bytes.isEmpty: bytes.remove(at: position)
        case 3: bytes = Array(bytes.prefix(position))
        case 4 where !bytes.isEmpty:
            let end = min(bytes.count, position + Int(random.next() % 8) + 1)
            bytes.insert(contentsOf: bytes[position..<end], at: position)
        case 5:
            let escapes = [#"\u"#, #"\ud800"#, #"\udc00"#, #"\ud83d\ude00"#, #"\uZZ"#, #"\x"#, "\\", #"\"#]
            bytes.insert(contentsOf: Array(escapes[Int(random.next() % UInt64(escapes.count))].utf8), at: position)
        default: break
        }
        return bytes
    }

    /// Arrays and objects nested around the 512-level limit.
    static func nesting(using random: inout SeededGenerator) -> [UInt8] {
        let depth = 505 + Int(random.next() % 15)
        if random.next() % 2 == 0 {
            return Array((String(repeating: "[", count: depth) + String(repeating: "]", count: depth)).utf8)
        }
        return Array((String(repeating: #"{"a":"#, count: depth) + "0" + String(repeating: "}", count: depth)).utf8)
    }

    /// `input` without each ',' that (after whitespace) precedes '}' or ']' outside of strings.
    static func removingTrailingCommas(_ input: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        var pendingComma: Int?
        forEachByte(input) { byte, inString in
            if inString {
                pendingComma = nil
            } else {
                switch byte {
                case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                    output.append(byte)
                    return
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if let comma = pendingComma { output.remove(at: comma) }
                default:
                    break
                }
                pendingComma = byte == UInt8(ascii: ",") ? output.count : nil
            }
            output.append(byte)
        }
        return output
    }

    /// `input` with every number outside strings replaced by `0`.
    static func replacingNumbers(_ input: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        var inNumber = false
        forEachByte(input) { byte, inString in
            let isDigit = (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            let continuesNumber = isDigit || Array("-+.eE".utf8).contains(byte)
            if inString {
                inNumber = false
            } else if inNumber, continuesNumber {
                return
            } else if isDigit || byte == UInt8(ascii: "-") {
                inNumber = true
                output.append(UInt8(ascii: "0"))
                return
            } else {
                inNumber = false
            }
            output.append(byte)
        }
        return output
    }

    /// Calls `body` with each byte and whether it lies inside a string (quotes included).
    private static func forEachByte(_ input: [UInt8], _ body: (UInt8, Bool) -> Void) {
        var inString = false
        var escaped = false
        for byte in input {
            if inString {
                body(byte, true)
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
                body(byte, true)
            } else {
                body(byte, false)
            }
        }
    }
}
