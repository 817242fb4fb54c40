import Foundation

/// Runs closures on dedicated OS threads and waits for all of them. The load generator's
/// blocking writers and readers each need a thread of their own: on a shared pool one blocked
/// `send` would hold up a reader and the agent would look slower than it is.
final class ThreadGroup: @unchecked Sendable {
    // @unchecked: DispatchGroup is thread-safe; it is the only state.
    private let group = DispatchGroup()

    func spawn(_ name: String, _ body: @escaping @Sendable () -> Void) {
        group.enter()
        let thread = Thread { [group] in
            body()
            group.leave()
        }
        thread.name = name
        thread.start()
    }

    func wait() {
        group.wait()
    }
}
