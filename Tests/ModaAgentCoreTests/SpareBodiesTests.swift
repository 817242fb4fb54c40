import NIOCore
import Testing

@testable import ModaAgentCore

/// The request bodies delivery keeps to write the next ones into: which it keeps, which it gives
/// back, and that it never hands out one someone else still holds.
@Suite("spare request bodies")
struct SpareBodiesTests {
    private static let fault = DeliveryFault(status: 503, message: "HTTP 503 Service Unavailable")

    private static func body() -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(64 * 1024)
        buffer.writeString(#"{"events":[]}"#)
        return buffer
    }

    @Test(
        "kept after an answer that sends again at once, all given back when delivery waits",
        arguments: [
            (DeliveryDecision.delivered(requestId: "r1"), 2),
            (.split(fault: fault), 2),
            (.deadLetter(fault: fault), 2),
            (.retry(after: nil, fault: fault), 0),
            (.retry(after: 30, fault: fault), 0),
            (.pause(.unauthorized, fault: fault), 0),
        ]
    )
    func keptOrGivenBack(decision: DeliveryDecision, kept: Int) {
        var spares = SpareBodies()
        spares.keep(Self.body(), after: .delivered(requestId: nil), limit: 8)
        spares.keep(Self.body(), after: decision, limit: 8)
        #expect(spares.count == kept)
    }

    @Test("at most the limit (maxInFlight); nothing to keep is no change; drop gives all back")
    func limit() {
        var spares = SpareBodies()
        for _ in 0..<5 { spares.keep(Self.body(), after: .delivered(requestId: nil), limit: 3) }
        #expect(spares.count == 3)
        spares.keep(nil, after: .delivered(requestId: nil), limit: 3)
        #expect(spares.count == 3)
        spares.drop()
        #expect(spares.count == 0)
        #expect(spares.take() == nil)
    }

    @Test("hands out only a body no one else holds, and the same storage, not a copy")
    func onlyUnshared() {
        var spares = SpareBodies()
        let shared = Self.body()
        spares.keep(shared, after: .delivered(requestId: nil), limit: 8)
        #expect(spares.take() == nil, "the HTTP client still holds it")
        #expect(spares.count == 1)
        var unshared = Self.body()
        let storage = unshared.withVeryUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
        spares.keep(unshared, after: .delivered(requestId: nil), limit: 8)
        unshared = ByteBuffer()
        let taken = spares.take()
        #expect(taken.map { $0.withVeryUnsafeBytes { UInt(bitPattern: $0.baseAddress) } } == storage)
        #expect(spares.count == 1)
        _ = shared.readableBytes
    }
}
