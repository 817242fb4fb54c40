/// What a `MockModaServer` keeps of the requests it answers.
public enum MockRecording: Sendable {
    /// Every request and the raw JSON of every delivered event (the tests' default).
    case full
    /// Only counts: each body's events are counted as its chunks arrive and nothing is kept, so
    /// a million events cost no memory and the mock's intake stays far above the agent's (the
    /// benchmark measures it). Requests carry their `eventCount` but no body and no events, and
    /// `requests` and `deliveredEvents` stay empty.
    case countOnly
}
