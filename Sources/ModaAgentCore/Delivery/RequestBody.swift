/// The request body of one batch: `{"events":[e1,e2,...]}` spliced from the stored event bytes,
/// never re-encoded.
public enum RequestBody {
    /// `{"events":[` plus `]}`.
    public static let overheadBytes = 13

    /// Size of the body holding events whose stored sizes sum to `eventBytes`.
    public static func size(eventCount: Int, eventBytes: Int) -> Int {
        overheadBytes + eventBytes + max(0, eventCount - 1)
    }

    public static func encode(_ bodies: some Collection<[UInt8]>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(size(eventCount: bodies.count, eventBytes: bodies.reduce(0) { $0 + $1.count }))
        out.append(contentsOf: Array("{\"events\":[".utf8))
        var first = true
        for body in bodies {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(contentsOf: body)
        }
        out.append(contentsOf: Array("]}".utf8))
        return out
    }
}
