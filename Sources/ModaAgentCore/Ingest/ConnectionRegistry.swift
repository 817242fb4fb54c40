import NIOConcurrencyHelpers
import NIOCore

/// The open connections of one listener, at most `limit` of them: a connection is admitted in the
/// channel initializer (on its event loop) and leaves when it closes. Shutdown walks the ones still
/// open to drain or close them. The ingest socket and the HTTP receivers each keep one.
final class ConnectionRegistry: Sendable {
    private let open = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Registers `channel` unless `limit` connections are open already (then false: the caller
    /// refuses it). A registered channel leaves when it closes, and `closed` runs then.
    func admit(_ channel: any Channel, closed: @escaping @Sendable () -> Void) -> Bool {
        let admitted = open.withLockedValue { open -> Bool in
            guard open.count < limit else { return false }
            open[ObjectIdentifier(channel)] = channel
            return true
        }
        guard admitted else { return false }
        channel.closeFuture.whenComplete { _ in
            closed()
            _ = self.open.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(channel)) }
        }
        return true
    }

    var channels: [any Channel] { open.withLockedValue { Array($0.values) } }

    var count: Int { open.withLockedValue { $0.count } }

    /// Closes every connection still open.
    func closeAll() async {
        for channel in channels {
            try? await channel.close()
        }
    }
}
