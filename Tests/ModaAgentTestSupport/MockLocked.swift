import Foundation

/// A value behind a lock, shared between the mock server's event loop and the test's tasks.
///
/// `@unchecked Sendable`: every access to `value` goes through `lock`, so no two threads touch
/// it at once. (Synchronization.Mutex would do, but needs macOS 15; NIO's lock box is not a
/// declared dependency of this target.)
final class MockLocked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
