/// The outcome of walking one line, before stored bodies are built.
enum ParsedLine {
    case syntaxError(JSONSyntaxError)
    /// Valid JSON whose top-level value is not an object.
    case notAnObject
    /// `record` is nil when the event broke a rule (then `faults` says how).
    case bareEvent(EventRecord?, faults: [String])
    /// `environment` is the envelope's `environment` string token, if it has one.
    case envelope([EventRecord], environment: JSONToken?, faults: [String])
}
