/// What stopped the daemon from starting or running, and the exit status it leaves with: 75
/// (EX_TEMPFAIL) when another daemon owns the queue or the socket, 1 for anything else. Every failure,
/// in the builder or in a service's run, ends in `AgentDaemon`'s one catch with these words.
enum DaemonStartError: Error, CustomStringConvertible {
    /// The ingest socket could not be bound or adopted for a reason other than an `IngestError`.
    case ingestSocket(any Error)
    /// A listener of `setting` (`http.listen`, `monitoring.listen`) could not bind `address`.
    case listen(setting: String, address: String, any Error)

    var description: String {
        switch self {
        case .ingestSocket(let error):
            return "cannot start the ingest socket: \(error)"
        case .listen(let setting, let address, let error):
            return "cannot listen on \(setting) \(address): \(error); free the port or change the setting"
        }
    }

    /// The exit status for any error that ends the daemon.
    static func exitStatus(for error: any Error) -> Int32 {
        switch error {
        case QueueError.locked: return ExitStatus.alreadyRunning
        case IngestError.socketInUse: return ExitStatus.alreadyRunning
        default: return ExitStatus.failure
        }
    }
}
