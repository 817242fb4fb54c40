/// The request body of one batch: `{"events":[e1,e2,...]}` spliced from the stored event bytes,
/// never re-encoded (`QueueStore.requestBody` writes it).
public enum RequestBody {
    /// `{"events":[` plus `]}`.
    public static let overheadBytes = 13

    /// Size of the body holding events whose stored sizes sum to `eventBytes`.
    public static func size(eventCount: Int, eventBytes: Int) -> Int {
        overheadBytes + eventBytes + max(0, eventCount - 1)
    }
}
