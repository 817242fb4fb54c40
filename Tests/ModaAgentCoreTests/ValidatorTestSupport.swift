import Foundation

@testable import ModaAgentCore

/// Helpers shared by the validator tests: run a line through an `EventValidator` and look at the outcome.
enum ValidatorFixtures {
    static let receivedAt = "2026-11-27T03:18:53.123Z"

    static func prepare(
        _ line: String,
        defaultEnvironment: String? = "production",
        maxEventBytes: Int = 100_000
    ) -> Result<[PreparedEvent], LineRejection> {
        prepare(Array(line.utf8), defaultEnvironment: defaultEnvironment, maxEventBytes: maxEventBytes)
    }

    static func prepare(
        _ line: [UInt8],
        defaultEnvironment: String? = "production",
        maxEventBytes: Int = 100_000
    ) -> Result<[PreparedEvent], LineRejection> {
        EventValidator(maxEventBytes: maxEventBytes, defaultEnvironment: defaultEnvironment)
            .prepare(line: line, receivedAt: receivedAt)
    }

    /// The stored bodies, or nil if the line was rejected.
    static func bodies(_ line: String, defaultEnvironment: String? = "production") -> [String]? {
        guard case .success(let events) = prepare(line, defaultEnvironment: defaultEnvironment) else { return nil }
        return events.map { String(decoding: $0.body, as: UTF8.self) }
    }

    /// The rejection message, or nil if the line was accepted.
    static func rejection(
        _ line: String,
        defaultEnvironment: String? = "production",
        maxEventBytes: Int = 100_000
    )
        -> String?
    {
        guard
            case .failure(let rejection) = prepare(
                line,
                defaultEnvironment: defaultEnvironment,
                maxEventBytes: maxEventBytes
            )
        else { return nil }
        return rejection.message
    }

    static func rejection(_ line: [UInt8]) -> String? {
        guard case .failure(let rejection) = prepare(line) else { return nil }
        return rejection.message
    }

    /// A stored body parsed by Foundation, to prove it is valid JSON.
    static func object(_ body: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
    }

    /// `bad` as the second event of an envelope whose first event is valid, so faults must say `events[1]`.
    static func secondOfTwo(_ bad: String) -> String {
        #"{"events":[{"conversation_id":"ok","role":"user","message":"fine"},"# + bad + "]}"
    }

    /// A valid standard event with `extra` members appended.
    static func standard(_ extra: String = "") -> String {
        #"{"conversation_id":"c1","role":"user","message":"hi""# + (extra.isEmpty ? "" : "," + extra) + "}"
    }
}

extension QueueWriter {
    /// Lines of events made one by one, as the tests build them.
    func submit(
        lines: [[PreparedEvent]],
        receivedAt: Double,
        completion: @escaping @Sendable ([Outcome]) -> Void
    ) {
        submit(lines: PreparedLines(lines), receivedAt: receivedAt, completion: completion)
    }
}
