import Foundation
import Testing

@testable import ModaAgentCore

/// Lines that are not well-formed: bad JSON, bad UTF-8, bad escapes, hostile nesting and sizes. Each gets a
/// single precise error, and none may crash the validator.
@Suite struct EventValidatorSyntaxTests {
    typealias F = ValidatorFixtures

    static let malformed: [(line: String, message: String)] = [
        (#"{"a":1,}"#, "malformed JSON at byte 7: expected a string key in double quotes, found '}'"),
        (#"{"a" 1}"#, "malformed JSON at byte 5: expected ':' after object key, found '1'"),
        (#"{"a":1 "b":2}"#, #"malformed JSON at byte 7: expected ',' or '}' after object member, found '"'"#),
        (#"{"a":[1 2]}"#, "malformed JSON at byte 8: expected ',' or ']' after array element, found '2'"),
        (#"{"a":[1,]}"#, "malformed JSON at byte 8: expected a JSON value, found ']'"),
        (#"{"a":}"#, "malformed JSON at byte 5: expected a JSON value, found '}'"),
        (#"{a:1}"#, "malformed JSON at byte 1: expected a string key in double quotes, found 'a'"),
        (#"{'a':1}"#, "malformed JSON at byte 1: expected a string key in double quotes, found '''"),
        (#"{"a":1}}"#, "malformed JSON at byte 7: unexpected data after the JSON value, found '}'"),
        (#"{"a":1} {"b":2}"#, "malformed JSON at byte 8: unexpected data after the JSON value, found '{'"),
        (#"{"a":1"#, "malformed JSON at byte 6: expected ',' or '}' after object member, found end of line"),
        (#"{"a":"#, "malformed JSON at byte 5: expected a JSON value, found end of line"),
        (
            #"{"a":"abc}"#,
            #"malformed JSON at byte 10: unterminated string (it starts at byte 5): expected a closing '"', found end of line"#
        ),
        (#"{"a":01}"#, "malformed JSON at byte 6: numbers must not have leading zeros, found '1'"),
        (#"{"a":-}"#, "malformed JSON at byte 6: expected a digit in the number, found '}'"),
        (#"{"a":1.}"#, "malformed JSON at byte 7: expected a digit after the decimal point, found '}'"),
        (#"{"a":.5}"#, "malformed JSON at byte 5: expected a JSON value, found '.'"),
        (#"{"a":+1}"#, "malformed JSON at byte 5: expected a JSON value, found '+'"),
        (#"{"a":1e+}"#, "malformed JSON at byte 8: expected a digit in the exponent, found '}'"),
        (#"{"a":0x1F}"#, "malformed JSON at byte 6: expected ',' or '}' after object member, found 'x'"),
        (#"{"a":NaN}"#, "malformed JSON at byte 5: expected a JSON value, found 'N'"),
        (
            #"{"a":tru}"#,
            "malformed JSON at byte 5: expected a JSON value (true, false, null, a number, a string, an object or an array), found 't'"
        ),
        (#"{"a":nulls}"#, "malformed JSON at byte 9: expected ',' or '}' after object member, found 's'"),
        (
            #"{"a":"\x"}"#,
            #"malformed JSON at byte 6: invalid escape: use \" \\ \/ \b \f \n \r \t or \uXXXX, found '\'"#
        ),
        (#"{"a":"\u12G4"}"#, #"malformed JSON at byte 6: a \u escape needs exactly 4 hex digits, found '\'"#),
        (#"{"a":"\u12"}"#, #"malformed JSON at byte 6: a \u escape needs exactly 4 hex digits, found '\'"#),
        (
            "{\"a\":\"tab\there\"}",
            "malformed JSON at byte 9: control characters must be escaped in strings (e.g. \\n, \\t, \\u0000), found control character U+0009"
        ),
        (
            "{\"a\":\"nul\0\"}",
            "malformed JSON at byte 9: control characters must be escaped in strings (e.g. \\n, \\t, \\u0000), found control character U+0000"
        ),
        (
            "{\"a\":1}\0",
            "malformed JSON at byte 7: unexpected data after the JSON value, found control character U+0000"
        ),
        ("\0{\"a\":1}", "malformed JSON at byte 0: expected a JSON value, found control character U+0000"),
        ("\u{FEFF}{\"a\":1}", "malformed JSON at byte 0: expected a JSON value, found a non-ASCII character"),
        (
            "{\"a\":1,\u{A0}\"b\":2}",
            "malformed JSON at byte 7: expected a string key in double quotes, found a non-ASCII character"
        ),
        ("   ", "malformed JSON at byte 3: expected a JSON value, found end of line"),
    ]

    @Test(arguments: malformed.indices)
    func malformedJSONIsRejectedWithItsPosition(_ index: Int) {
        let (line, message) = Self.malformed[index]
        #expect(F.rejection(line) == message)
    }

    @Test func syntaxFaultsOutrankSchemaFaults() {
        // The schema faults of event 0 are not reported once the line turns out not to be JSON.
        #expect(
            F.rejection(#"{"events":[{"role":"bot"},{"a":1,}]}"#)
                == "malformed JSON at byte 33: expected a string key in double quotes, found '}'"
        )
    }

    @Test func whitespaceAroundTheValueIsAllowed() {
        #expect(F.bodies(" \t\r " + F.standard() + " \t\r")?.count == 1)
    }

    @Test func invalidUTF8IsRejectedWithItsOffset() {
        let prefix = Array(#"{"conversation_id":"c","role":"user","message":""#.utf8)
        let cases: [(bytes: [UInt8], name: String)] = [
            ([0xFF], "0xFF"),
            ([0xC0, 0xAF], "overlong '/'"),
            ([0xE0, 0x80, 0xAF], "overlong 3-byte"),
            ([0xED, 0xA0, 0x80], "UTF-8 encoded surrogate"),
            ([0xF4, 0x90, 0x80, 0x80], "above U+10FFFF"),
            ([0xF5, 0x80, 0x80, 0x80], "F5 lead"),
            ([0x80], "lone continuation"),
            ([0xC3], "truncated 2-byte"),
            ([0xE2, 0x82], "truncated 3-byte"),
            ([0xE2, 0x28, 0xA1], "bad continuation"),
        ]
        for (bad, name) in cases {
            let line = prefix + bad + Array(#""}"#.utf8)
            #expect(
                F.rejection(line) == "invalid UTF-8 at byte \(prefix.count): send the line as UTF-8 encoded text",
                "\(name)"
            )
        }
        // Offsets count from the start of the line, also past a run of ASCII handled 8 bytes at a time.
        #expect(F.rejection([0xFF])?.hasPrefix("invalid UTF-8 at byte 0:") == true)
        #expect(F.rejection(Array(repeating: 0x20, count: 37) + [0xFE])?.hasPrefix("invalid UTF-8 at byte 37:") == true)
        // UTF-8 is checked before JSON syntax.
        #expect(F.rejection([0x7B, 0x7B, 0xFF])?.hasPrefix("invalid UTF-8 at byte 2:") == true)
    }

    @Test func validMultibyteUTF8IsAccepted() {
        #expect(F.bodies(F.standard(#""x":"é € 😀 中文""#))?.count == 1)
        #expect(F.bodies(F.standard("\"x\":\"\u{7F}\u{80}\u{7FF}\u{800}\u{FFFF}\u{10000}\u{10FFFF}\""))?.count == 1)
    }

    @Test func unpairedSurrogateEscapesAreRejected() {
        let cases: [(escape: String, offset: Int)] = [
            (#"\ud800"#, 0), (#"\udc00"#, 0), (#"\uDBFF\u0041"#, 0), (#"x\ud800y"#, 1), (#"\ud800\ud800"#, 0),
            (#"\ude00\ud83d"#, 0), (#"\ud83d\ude00\udc00"#, 12), (#"\ud800\"#, 0),
        ]
        let prefix = #"{"conversation_id":"c","role":"user","message":""#
        for (escape, offset) in cases {
            let line = prefix + escape + #""}"#
            #expect(
                F.rejection(line)
                    == "unpaired UTF-16 surrogate escape at byte \(prefix.utf8.count + offset): a \\uD800-\\uDBFF escape "
                    + "must be followed by a \\uDC00-\\uDFFF escape",
                "\(escape)"
            )
        }
        #expect(F.bodies(F.standard(#""x":"\ud83d\ude00 \uDBFF\uDFFF \u0000 \u00e9""#))?.count == 1)
    }

    @Test func nestingIsLimitedTo512Levels() {
        // The event object is level 1, so an unknown field may hold 511 more levels.
        func event(arrays: Int) -> String {
            F.standard(#""deep":"# + String(repeating: "[", count: arrays) + String(repeating: "]", count: arrays))
        }
        #expect(F.bodies(event(arrays: 511))?.count == 1)
        #expect(F.rejection(event(arrays: 512))?.hasPrefix("JSON nested deeper than 512 levels") == true)
        let objects = String(repeating: #"{"a":"#, count: 511) + "1" + String(repeating: "}", count: 511)
        #expect(F.bodies(F.standard(#""deep":"# + objects))?.count == 1)
        let tooDeep = String(repeating: #"{"a":"#, count: 512) + "1" + String(repeating: "}", count: 512)
        #expect(F.rejection(F.standard(#""deep":"# + tooDeep))?.hasPrefix("JSON nested deeper than 512 levels") == true)
        // In an envelope the event is level 3, its content array 4 and a block 5: a block's field may hold 507
        // more levels.
        let inEnvelope =
            #"{"events":[{"conversation_id":"c","role":"user","content":[{"type":"x","v":"#
            + String(repeating: "[", count: 507) + String(repeating: "]", count: 507) + "}]}]}"
        #expect(F.bodies(inEnvelope)?.count == 1, "\(F.rejection(inEnvelope) ?? "")")
        let deeper = inEnvelope.replacingOccurrences(of: #""v":["#, with: #""v":[["#).replacingOccurrences(
            of: "]}]}]}",
            with: "]]}]}]}"
        )
        #expect(F.rejection(deeper)?.hasPrefix("JSON nested deeper than 512 levels") == true)
    }

    @Test func hostileNestingIsRejectedWithoutCrashing() {
        for depth in [10_000, 100_000] {
            let arrays = String(repeating: "[", count: depth)
            #expect(F.rejection(arrays) == "JSON nested deeper than 512 levels (at byte 512): flatten the data")
            #expect(F.rejection(arrays + String(repeating: "]", count: depth))?.hasPrefix("JSON nested deeper") == true)
            let objects = String(repeating: #"{"a":"#, count: depth)
            #expect(F.rejection(objects)?.hasPrefix("JSON nested deeper than 512 levels") == true)
            let mixed = String(repeating: #"{"a":["#, count: depth)
            #expect(F.rejection(F.standard(#""x":"# + mixed))?.hasPrefix("JSON nested deeper than 512 levels") == true)
            let events = #"{"events":[{"conversation_id":"c","role":"user","content":[{"type":"t","x":"# + arrays
            #expect(F.rejection(events)?.hasPrefix("JSON nested deeper than 512 levels") == true)
        }
    }

    @Test func hugeNumbersAndStrings() {
        let digits = String(repeating: "9", count: 10_000)
        #expect(F.bodies(F.standard(#""input_tokens":"# + digits))?.count == 1)
        #expect(F.bodies(F.standard(#""input_tokens":1e400,"output_tokens":0.0000001e-400"#))?.count == 1)
        #expect(F.bodies(F.standard(#""input_tokens":-0,"output_tokens":-0.0e10"#))?.count == 1)
        #expect(F.rejection(F.standard(#""input_tokens":-1e400"#)) == "input_tokens must be a number >= 0 (got -1e400)")
        #expect(
            F.rejection(F.standard(#""input_tokens":-"# + digits))?.hasPrefix("input_tokens must be a number >= 0")
                == true
        )
        let text = String(repeating: #"\"\\\/\n\u00e9"#, count: 50_000)
        #expect(F.prepare(F.standard(#""x":""# + text + #"""#), maxEventBytes: 2_000_000).map(\.count) == .success(1))
        let key = String(repeating: "k", count: 100_000)
        #expect(F.prepare(F.standard("\"" + key + "\":1"), maxEventBytes: 2_000_000).map(\.count) == .success(1))
    }

    @Test func truncatedLinesNeverCrash() {
        // Every prefix of a rich line is either accepted or rejected with a message.
        let line =
            #"{"environment":"e","events":[{"conversation_id":"c\u00e9\ud83d\ude00","role":"user","content":[{"type":"tool_use","tool_name":"n","tool_use_id":"i","input":{"a":[1,-2.5e-3,true,false,null]}}],"timestamp":"2024-01-15T10:30:00Z"}]}"#
        let bytes = Array(line.utf8)
        for end in 0..<bytes.count {
            let result = F.prepare(Array(bytes[0..<end]))
            if case .failure(let rejection) = result {
                #expect(!rejection.message.isEmpty)
            } else {
                Issue.record("prefix of \(end) bytes accepted")
            }
        }
        #expect(F.prepare(bytes).map(\.count) == .success(1))
    }
}
