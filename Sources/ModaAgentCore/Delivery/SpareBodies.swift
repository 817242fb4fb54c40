import NIOCore

/// The bodies of answered requests, kept to write the next requests' bodies into: a fresh buffer of
/// a few hundred KB is fresh pages from the kernel, each faulted in and zeroed (clear_page was 4.7 %
/// of the daemon's CPU end to end, docs/performance.md). A value the driver keeps on its queue.
struct SpareBodies {
    private var bodies: [ByteBuffer] = []

    var count: Int { bodies.count }

    /// A kept body no one else still holds. The HTTP client lets go of a request's body a little after
    /// its answer, so the body kept last was always still shared when the next batch was built, and
    /// writing into it copied it into fresh pages: counted over a 1M run, 0 of 492 reused in place
    /// before this look for an unshared one, 986 of 1,000 after.
    mutating func take() -> ByteBuffer? {
        for index in bodies.indices.reversed() where bodies[index].modifyIfUniquelyOwned({ _ in }) != nil {
            return bodies.remove(at: index)
        }
        return nil
    }

    /// Keeps an answered request's body, at most `limit`. After a retry or a pause delivery waits (a
    /// backoff of up to 30 s, or an operator): every body goes back then, instead of a batch's worth
    /// of memory held through an outage (a 1M backlog restarted against a failing upstream stayed
    /// 0.5 MiB above the daemon before the reuse).
    mutating func keep(_ body: ByteBuffer?, after decision: DeliveryDecision, limit: Int) {
        switch decision {
        case .retry, .pause:
            bodies.removeAll()
        case .delivered, .split, .deadLetter:
            guard let body, bodies.count < limit else { return }
            bodies.append(body)
        }
    }

    /// Delivery is idle: the memory goes back.
    mutating func drop() { bodies.removeAll() }
}

/// A request body on its way: the driver keeps this one reference while the request is out and
/// takes the buffer back when it is answered, to write the next body into.
final class SpareBody: @unchecked Sendable {
    // @unchecked: `buffer` is set on the driver's queue, read by the request's task, then taken on
    // the driver's queue again after the request finished: one after the other, never at once.
    private(set) var buffer: ByteBuffer?

    init(_ buffer: ByteBuffer) { self.buffer = buffer }

    func take() -> ByteBuffer? {
        defer { buffer = nil }
        return buffer
    }
}
