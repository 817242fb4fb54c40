import Testing

@testable import ModaAgentCore

/// A burst's lines validated into one `PreparedLines`: the same events as line by line, in few chunks,
/// and a refused line leaves nothing behind.
@Suite("prepared lines")
struct PreparedLinesTests {
    private static let receivedAt = "2026-12-05T06:00:00.000Z"

    private static func event(_ conversation: String, _ n: Int, padding: Int = 0) -> String {
        #"{"conversation_id":"\#(conversation)","role":"user","message":"m\#(n)\#(String(repeating: "x", count: padding))"}"#
    }

    private static func prepare(_ lines: [String], validator: EventValidator) -> (PreparedLines, [LineRejection?]) {
        var prepared = PreparedLines()
        var rejections: [LineRejection?] = []
        for line in lines {
            let bytes = Array(line.utf8)
            rejections.append(
                bytes.withUnsafeBytes { validator.prepare(line: $0, receivedAt: receivedAt, into: &prepared) }
            )
        }
        return (prepared, rejections)
    }

    @Test("lines of one and of several events hold the bodies and keys the line-by-line validator gives")
    func sameAsLineByLine() throws {
        let validator = EventValidator(maxEventBytes: 100_000, defaultEnvironment: "production")
        let lines = [
            Self.event("a", 1),
            #"{"environment":"staging","events":[\#(Self.event("b", 2)),\#(Self.event("c", 3)),\#(Self.event("b", 4))]}"#,
            Self.event("a", 5),
        ]
        let (prepared, rejections) = Self.prepare(lines, validator: validator)
        #expect(rejections.allSatisfy { $0 == nil })
        #expect(prepared.lineCount == 3 && prepared.eventCount == 5)
        #expect(prepared.events(ofLine: 1) == 1..<4)
        let expected = try lines.map { try validator.prepare(line: Array($0.utf8), receivedAt: Self.receivedAt).get() }
        #expect(prepared.lines == expected)
        #expect(prepared.lines[1].map(\.conversation) == ["b", "c", "b"].map { ConversationKey.of(id: $0) })
        let range = prepared.events(ofLine: 1)
        #expect(prepared.bodyBytes(of: range) == expected[1].reduce(0) { $0 + $1.body.count })
        let stored = String(decoding: prepared.event(range.lowerBound).body, as: UTF8.self)
        #expect(stored.contains(#""environment":"staging""#) && stored.contains(#""timestamp":"2026-12-05"#))
    }

    @Test("a refused line leaves the lines before it as they were, and the next line follows them")
    func refusedLineLeavesNothing() throws {
        let validator = EventValidator(maxEventBytes: 100_000, defaultEnvironment: nil)
        let (prepared, rejections) = Self.prepare(
            [Self.event("a", 1), #"{"conversation_id":"a""#, #"{"role":"user"}"#, Self.event("a", 2)],
            validator: validator
        )
        #expect(rejections.map { $0 == nil } == [true, false, false, true])
        #expect(prepared.lineCount == 2)
        #expect(prepared.lines.flatMap { $0 }.map { String(decoding: $0.body, as: UTF8.self).contains(#""m2""#) } == [false, true])
    }

    @Test("an envelope refused once redacted, after some of its events were stored, leaves none of them")
    func redactedRefusalDropsItsEvents() throws {
        var settings = AgentConfig.Redaction()
        settings.detectors = [.email]
        let short = Self.event("a", 1)
        let validator = EventValidator(
            maxEventBytes: short.utf8.count + 60,
            defaultEnvironment: nil,
            redactor: try Redactor(settings: settings)
        )
        let envelope = #"{"events":[\#(short),{"conversation_id":"a","role":"user","message":"a@b.co a@b.co a@b.co"}]}"#
        let (prepared, rejections) = Self.prepare([short, envelope, short], validator: validator)
        #expect(rejections[0] == nil && rejections[2] == nil)
        #expect(rejections[1]?.message.contains("once redacted") == true, "\(String(describing: rejections[1]))")
        #expect(prepared.lineCount == 2 && prepared.eventCount == 2)
        #expect(prepared.lines == [[prepared.event(0)], [prepared.event(0)]], "the two short lines, nothing between")
    }

    @Test("a burst's bodies share chunks that grow to 60 KiB; a larger body gets a chunk of its own")
    func chunks() throws {
        let validator = EventValidator(maxEventBytes: 1 << 20, defaultEnvironment: nil)
        let small = (0..<400).map { Self.event("c\($0 % 7)", $0, padding: 300) }
        let large = Self.event("big", 0, padding: 200_000)
        let (prepared, _) = Self.prepare(small + [large] + small, validator: validator)
        #expect(prepared.lineCount == 801)
        // 400 bodies of ~400 bytes each side of the large one: chunks of 1, 2, 4, ... bodies up to
        // 60 KiB, a dozen allocations, not 400.
        #expect((8...14).contains(prepared.chunks.count), "\(prepared.chunks.count)")
        let big = prepared.chunks.filter { $0.count > PreparedLines.chunkBytes }
        #expect(big.count == 1 && big[0].count == prepared.bodySize(400))
        #expect(prepared.chunks.filter { $0.count <= PreparedLines.chunkBytes }.allSatisfy { $0.capacity < 128 << 10 })
        let expected = try (small + [large] + small).map {
            try validator.prepare(line: Array($0.utf8), receivedAt: Self.receivedAt).get()
        }
        #expect(prepared.lines == expected, "every body intact across chunk boundaries")
    }

    @Test("a burst of one line holds what its body needs, not a whole chunk")
    func oneLineTakesLittle() throws {
        let validator = EventValidator(maxEventBytes: 1 << 20, defaultEnvironment: nil)
        let (prepared, _) = Self.prepare([Self.event("a", 1)], validator: validator)
        #expect(prepared.chunks.count == 1)
        #expect(prepared.chunks[0].capacity < prepared.bodySize(0) + 64, "\(prepared.chunks[0].capacity)")
    }
}
