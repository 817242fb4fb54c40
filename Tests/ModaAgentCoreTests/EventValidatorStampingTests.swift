import Foundation
import Testing

@testable import ModaAgentCore

/// What is stored: the original bytes, with `timestamp` and `environment` filled in only where missing.
@Suite struct EventValidatorStampingTests {
    typealias F = ValidatorFixtures

    @Test func missingTimestampAndEnvironmentAreAppended() throws {
        let line = #"{"conversation_id":"c","role":"user","message":"m"}"#
        let body = try #require(F.bodies(line)?.first)
        #expect(
            body
                == #"{"conversation_id":"c","role":"user","message":"m","timestamp":"2026-11-27T03:18:53.123Z","environment":"production"}"#
        )
    }

    @Test func presentValuesAreKeptAndTheBytesAreUntouched() throws {
        // Odd whitespace, unknown fields, escapes and non-ASCII must come out byte for byte.
        let line =
            "{ \"conversation_id\" : \"c\",\t\"role\":\"user\" ,\"message\":\"caf\u{e9} \\u00e9 \\ud83d\\ude00 \\\"q\\\"\", "
            + "\"x-custom\": {\"deep\": [1, 2.50, {\"a\": null}]}, \"timestamp\":\"2024-01-15T10:30:00Z\", \"environment\":\"dev\" }"
        let body = try #require(F.bodies(line)?.first)
        #expect(body == line)
    }

    @Test func envelopeEventsAreStoredAsTheirExactSlices() throws {
        let first =
            #"{ "conversation_id":"a", "role":"user", "message":"1", "timestamp":"2024-01-15T10:30:00Z", "environment":"x" }"#
        let second =
            "{\"messageType\":\"tool_call\",\"id\":\"t\",\"conversationId\":\"c\",\"name\":\"n\",\"timestamp\":\"2024-01-15T10:30:00Z\",\"environment\":\"y\",\"toolCallRequest\":{\"q\":[]}}"
        let line = "  {\"events\": [ " + first + " ,\n" + second + "], \"environment\": \"ignored-here\"}  "
        let bodies = try #require(F.bodies(line))
        #expect(bodies == [first, second])
    }

    @Test func nullTimestampAndEnvironmentAreReplacedInPlace() throws {
        let line = #"{"timestamp": null, "conversation_id":"c","role":"user","message":"m","environment":null,"z":1}"#
        let body = try #require(F.bodies(line)?.first)
        #expect(
            body
                == #"{"timestamp": "2026-11-27T03:18:53.123Z", "conversation_id":"c","role":"user","message":"m","environment":"production","z":1}"#
        )
        // Replaced in order whichever comes first.
        let reversed = #"{"environment":null,"conversation_id":"c","role":"user","message":"m","timestamp":null}"#
        #expect(
            F.bodies(reversed)?.first
                == #"{"environment":"production","conversation_id":"c","role":"user","message":"m","timestamp":"2026-11-27T03:18:53.123Z"}"#
        )
    }

    @Test func timestampPresentEnvironmentMissing() throws {
        let line = #"{"conversation_id":"c","role":"user","message":"m","timestamp":"2024-01-15T10:30:00Z"}"#
        let body = try #require(F.bodies(line)?.first)
        #expect(
            body
                == #"{"conversation_id":"c","role":"user","message":"m","timestamp":"2024-01-15T10:30:00Z","environment":"production"}"#
        )
    }

    @Test func environmentComesFromEnvelopeThenConfig() throws {
        let event = #"{"conversation_id":"c","role":"user","message":"m"}"#
        let own = #"{"conversation_id":"c","role":"user","message":"m","environment":"own"}"#
        let nullOwn = #"{"conversation_id":"c","role":"user","message":"m","environment":null}"#
        func environments(_ line: String, _ configured: String?) throws -> [String?] {
            let bodies = try #require(F.bodies(line, defaultEnvironment: configured), "\(F.rejection(line) ?? "")")
            return try bodies.map { try #require(F.object($0))["environment"] as? String }
        }
        let envelope = #"{"environment":"staging","events":["# + [event, own, nullOwn].joined(separator: ",") + "]}"
        #expect(try environments(envelope, "production") == ["staging", "own", "staging"])
        #expect(try environments(envelope, nil) == ["staging", "own", "staging"])
        let plain = #"{"events":["# + [event, own, nullOwn].joined(separator: ",") + "]}"
        #expect(try environments(plain, "production") == ["production", "own", "production"])
        let nullEnvelope = #"{"environment":null,"events":["# + event + "]}"
        #expect(try environments(nullEnvelope, "production") == ["production"])
        // With neither, nothing is added, and a null stays null.
        #expect(try environments(plain, nil) == [nil, "own", nil])
        #expect(F.bodies(nullOwn, defaultEnvironment: nil)?.first?.contains(#""environment":null"#) == true)
        #expect(F.bodies(event, defaultEnvironment: nil)?.first?.contains("environment") == false)
    }

    @Test func insertedValuesAreEscaped() throws {
        let configured = "pro\"d\\n\n\u{1}é"
        let body = try #require(
            F.bodies(#"{"conversation_id":"c","role":"user","message":"m"}"#, defaultEnvironment: configured)?.first
        )
        #expect(try #require(F.object(body))["environment"] as? String == configured)
        // An envelope's escaped environment is copied as it was written, and means the same.
        let line = #"{"environment":"st\u0061g\"ing","events":[{"conversation_id":"c","role":"user","message":"m"}]}"#
        let stored = try #require(F.bodies(line)?.first)
        #expect(stored.contains(#""environment":"st\u0061g\"ing""#))
        #expect(try #require(F.object(stored))["environment"] as? String == "stag\"ing")
        // The receive time is escaped too, should it ever need it.
        let odd = EventValidator(maxEventBytes: 1000, defaultEnvironment: nil)
            .prepare(line: Array(#"{"conversation_id":"c","role":"user","message":"m"}"#.utf8), receivedAt: "a\"b")
        let oddBody = try #require(try? odd.get().first?.body)
        #expect(try #require(F.object(String(decoding: oddBody, as: UTF8.self)))["timestamp"] as? String == "a\"b")
    }

    @Test func everyStoredBodyIsValidJSONWithOneOfEachKey() throws {
        let lines = [
            #"{"conversation_id":"c","role":"user","message":"m"}"#,
            #"{"conversation_id":"c","role":"user","message":"m" , "timestamp" : null }"#,
            "{\"conversation_id\":\"c\",\"role\":\"user\",\"message\":\"m\"\n\t}",
            #"{"messageType":"call","id":"i","conversationId":"c","transcript":[{"role":"a","content":"b","note":null}],"environment":null}"#,
            #"{"environment":"e","events":[{"conversation_id":"c","role":"user","content":[{"type":"text","text":"t"}],"timestamp":null}]}"#,
        ]
        for line in lines {
            let bodies = try #require(F.bodies(line), "\(line): \(F.rejection(line) ?? "")")
            for body in bodies {
                let object = try #require(F.object(body), "not JSON: \(body)")
                #expect(object["timestamp"] is String, "\(body)")
                #expect(object["environment"] is String, "\(body)")
                #expect(body.components(separatedBy: #""timestamp""#).count == 2, "\(body)")
                #expect(body.components(separatedBy: #""environment""#).count == 2, "\(body)")
            }
        }
    }

    @Test func membersAddedToAnEmptyObjectNeedNoLeadingComma() {
        // No schema accepts `{}`, so the writer is checked directly.
        let line = Array("{ }".utf8)
        let record = EventRecord(
            eventIndex: nil,
            start: 0,
            end: 3,
            isEmpty: true,
            timestamp: .insert,
            environment: .insert
        )
        let body = line.withUnsafeBytes { raw in
            Array("t".utf8).withUnsafeBytes { timestamp in
                Array("e".utf8).withUnsafeBytes { environment in
                    StoredBodyWriter.body(
                        of: record,
                        in: raw,
                        values: StoredBodyWriter.Values(timestamp: timestamp, environment: environment)
                    )
                }
            }
        }
        #expect(String(decoding: body, as: UTF8.self) == #"{ "timestamp":"t","environment":"e"}"#)
    }

    @Test func sizeLimitCountsTheStoredBody() throws {
        let line = #"{"conversation_id":"c","role":"user","message":"m"}"#
        let stored = try #require(F.bodies(line)?.first).utf8.count
        #expect(F.bodies(line)?.count == 1)
        #expect(F.prepare(line, maxEventBytes: stored).map(\.count) == .success(1))
        #expect(
            F.rejection(line, maxEventBytes: stored - 1)
                == "event is \(stored) bytes, over batch.maxEventBytes (\(stored - 1)): split it or raise the limit"
        )
        let envelope = #"{"events":["# + line + "," + line + #","# + F.standard(#""pad":"0123456789""#) + "]}"
        let message = try #require(F.rejection(envelope, maxEventBytes: stored))
        #expect(message.hasPrefix("events[2]: event is "))
        #expect(!message.contains("events[0]") && !message.contains("events[1]"))
    }

    @Test func oversizeAndOtherFaultsAreReportedTogether() throws {
        let line =
            #"{"events":[{"conversation_id":"c","role":"user","message":"a long enough message"},{"role":"user","message":"m"}]}"#
        let message = try #require(F.rejection(line, maxEventBytes: 60))
        #expect(message.contains("events[0]: event is "))
        #expect(message.contains("events[1]: conversation_id is required"))
    }

    @Test func largeEventsUnderTheLimitAreKept() throws {
        let big = String(repeating: "ü€😀x", count: 100_000)
        let line = #"{"conversation_id":"c","role":"user","message":""# + big + #""}"#
        let result = F.prepare(line, maxEventBytes: 2_000_000)
        let body = try #require(try? result.get().first?.body)
        #expect(body.starts(with: Array(line.utf8.dropLast())))
    }
}
