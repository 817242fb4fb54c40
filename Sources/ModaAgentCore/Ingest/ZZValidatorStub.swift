// TEMPORARY stub until the real validator lands.
public struct PreparedEvent: Sendable, Equatable { public var body: [UInt8] }
public struct LineRejection: Error, Sendable, Equatable { public var message: String }
public struct EventValidator: Sendable {
    public init(maxEventBytes: Int, defaultEnvironment: String?) {}
    public func prepare(line: UnsafeRawBufferPointer, receivedAt: String) -> Result<[PreparedEvent], LineRejection> {
        if line.first == UInt8(ascii: "{") { return .success([PreparedEvent(body: Array(line))]) }
        return .failure(LineRejection(message: "malformed JSON"))
    }
}
