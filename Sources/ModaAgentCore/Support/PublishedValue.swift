import NIOConcurrencyHelpers

/// A value one owner publishes after each change and anyone reads at any time without waiting for
/// the owner: the lock is held only to copy the value, never across work.
public final class PublishedValue<Value: Sendable>: Sendable {
    private let box: NIOLockedValueBox<Value>

    public init(_ value: Value) {
        box = NIOLockedValueBox(value)
    }

    public var value: Value { box.withLockedValue { $0 } }

    func publish(_ value: Value) {
        box.withLockedValue { $0 = value }
    }
}
