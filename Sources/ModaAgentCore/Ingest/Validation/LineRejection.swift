/// Why a whole line was refused. The socket server prefixes the message with `line N: ` and sends it back,
/// so it names every fault and says what would be accepted instead.
public struct LineRejection: Error, Sendable, Equatable {
    /// Without the "line N: " prefix (the server adds it). Names every fault, joined by "; ".
    public var message: String

    public init(message: String) {
        self.message = message
    }
}
