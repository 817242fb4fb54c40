import Testing

@testable import ModaAgentCore

@Suite struct ISO8601CheckTests {
    static let valid = [
        "2024-01-15T10:30:00Z", "2024-01-15t10:30:00z", "2024-01-15T10:30:00.123Z", "2024-01-15T10:30:00.123456789Z",
        "2024-01-15T10:30:00+05:30", "2024-01-15T10:30:00-0800", "2024-01-15T10:30:00.5+00:00", "2024-02-29T00:00:00Z",
        "2000-02-29T23:59:59Z", "2016-12-31T23:59:60Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59",
    ]

    static let invalid = [
        "", "yesterday", "2024-01-15", "2024-01-15T10:30Z", "2024-01-15T10:30:00", "2024-01-15 10:30:00Z",
        "2024-13-01T00:00:00Z", "2024-00-10T00:00:00Z", "2024-01-00T00:00:00Z", "2024-01-32T00:00:00Z",
        "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2024-04-31T00:00:00Z", "2024-01-15T24:00:00Z",
        "2024-01-15T10:60:00Z", "2024-01-15T10:30:61Z", "2024-01-15T10:30:00.Z", "2024-01-15T10:30:00+5:30",
        "2024-01-15T10:30:00+05", "2024-01-15T10:30:00+24:00", "2024-01-15T10:30:00+05:60", "2024-01-15T10:30:00Zjunk",
        "24-01-15T10:30:00Z", "2024/01/15T10:30:00Z", "2024-1-15T10:30:00Z", "２０２４-01-15T10:30:00Z",
        "2024-01-15T10:30:00,5Z", "2024-01-15T10:30:00+05:30:00",
    ]

    @Test(arguments: valid)
    func accepts(_ text: String) {
        #expect(Array(text.utf8).withUnsafeBytes { ISO8601Check.isDateTime($0) })
    }

    @Test(arguments: invalid)
    func rejects(_ text: String) {
        #expect(!Array(text.utf8).withUnsafeBytes { ISO8601Check.isDateTime($0) })
    }

    @Test func escapedTimestampsAreDecodedFirst() {
        // "\u0032" is "2": the decoded value is what counts.
        let line = #"{"conversation_id":"c","role":"user","message":"m","timestamp":"\u00324-01-15T10:30:00Z"}"#
        #expect(ValidatorFixtures.rejection(line)?.contains("timestamp must be") == true)
        let valid = #"{"conversation_id":"c","role":"user","message":"m","timestamp":"\u0032024-01-15T10:30:00Z"}"#
        #expect(ValidatorFixtures.bodies(valid)?.count == 1)
    }
}
