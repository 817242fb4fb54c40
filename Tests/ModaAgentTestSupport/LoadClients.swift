import Dispatch
import Foundation
import NIOConcurrencyHelpers

/// Several connections writing events in small pipelined bursts until stopped or cut off,
/// remembering which sequence numbers were acknowledged: the ground truth for "nothing
/// acknowledged is lost".
public final class LoadClients: Sendable {
    private let acknowledged = NIOLockedValueBox<[Int]>([])
    private let sentCount = NIOLockedValueBox(0)
    private let stopFlag = NIOLockedValueBox(false)
    private let group = DispatchGroup()

    public init() {}

    /// Starts `connections` writers; sequence numbers start at `firstSeq + connection * 1_000_000`.
    public func start(socketPath: String, connections: Int, firstSeq: Int, burst: Int = 20) {
        for connection in 0..<connections {
            group.enter()
            let base = firstSeq + connection * 1_000_000
            Thread {
                defer { self.group.leave() }
                guard let client = try? UnixSocketClient(path: socketPath) else { return }
                var next = base
                while !self.stopFlag.withLockedValue({ $0 }) {
                    let seqs = Array(next..<(next + burst))
                    next += burst
                    let payload = seqs.map { EventLines.typical($0) }.joined(separator: "\n") + "\n"
                    self.sentCount.withLockedValue { $0 += burst }
                    guard (try? client.send(payload)) != nil else { return }
                    let replies = client.readLines(burst, timeout: .seconds(5))
                    let acked = zip(seqs, replies).filter { $0.1 == #"{"ok":true,"accepted":1}"# }.map(\.0)
                    self.acknowledged.withLockedValue { $0.append(contentsOf: acked) }
                    if replies.count < burst { return }
                }
            }.start()
        }
    }

    /// Stops the writers and waits (bounded) for them to finish.
    public func stop(timeout: Double = 10) {
        stopFlag.withLockedValue { $0 = true }
        _ = group.wait(timeout: .now() + timeout)
    }

    /// Waits (bounded) for writers that end by themselves, e.g. when the daemon is killed.
    public func waitForWriters(timeout: Double = 10) {
        _ = group.wait(timeout: .now() + timeout)
        stopFlag.withLockedValue { $0 = true }
    }

    public var acknowledgedSeqs: [Int] { acknowledged.withLockedValue { $0 } }
    public var sent: Int { sentCount.withLockedValue { $0 } }
}
