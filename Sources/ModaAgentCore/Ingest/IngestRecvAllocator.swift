import NIOCore

/// Receive buffers for an ingest connection: NIO's adaptive sizes while the memory budget has room,
/// small reads once it is tight (unless the connection is finishing its line), so connections
/// already waiting to read each take little before the budget can pause them.
///
/// Always a fresh buffer (no `nextBufferSize`, and every read "may grow"): NIO's pool would
/// otherwise keep each connection's largest receive buffer, up to 64 KiB, for the connection's
/// life, outside any budget (1,024 connections: 64 MiB). With `maxMessagesPerRead` 1 the pool keeps
/// only the first, small buffer.
struct IngestRecvAllocator: RecvByteBufferAllocator {
    private var adaptive = AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 2048, maximum: MemoryBudget.fullRead)
    let budget: MemoryBudget
    let ticket: MemoryBudget.Ticket

    init(budget: MemoryBudget, ticket: MemoryBudget.Ticket) {
        self.budget = budget
        self.ticket = ticket
    }

    func buffer(allocator: ByteBufferAllocator) -> ByteBuffer {
        if budget.allowsFullReads(ticket) {
            return adaptive.buffer(allocator: allocator)
        }
        return allocator.buffer(capacity: MemoryBudget.smallRead)
    }

    func nextBufferSize() -> Int? { nil }

    mutating func record(actualReadBytes: Int) -> Bool {
        _ = adaptive.record(actualReadBytes: actualReadBytes)
        return true
    }
}
