import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGTERM, SIGINT, SIGHUP and SIGUSR1 into an async stream. Installed before the socket
/// accepts anything, so an early SIGTERM is never the default "die at once".
// @unchecked: `sources` is written once in init and only cancelled in deinit.
public final class SignalWatcher: @unchecked Sendable {
    public enum Signal: Sendable {
        case terminate
        case reload
        case flush
    }

    public let signals: AsyncStream<Signal>
    private let sources: [any DispatchSourceSignal]

    public init() {
        let (stream, continuation) = AsyncStream.makeStream(of: Signal.self)
        signals = stream
        signal(SIGPIPE, SIG_IGN)
        let mapping: [(Int32, Signal)] = [
            (SIGTERM, .terminate), (SIGINT, .terminate), (SIGHUP, .reload), (SIGUSR1, .flush),
        ]
        var made: [any DispatchSourceSignal] = []
        for (number, meaning) in mapping {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(meaning) }
            source.resume()
            made.append(source)
        }
        sources = made
    }

    deinit {
        for source in sources { source.cancel() }
    }
}
