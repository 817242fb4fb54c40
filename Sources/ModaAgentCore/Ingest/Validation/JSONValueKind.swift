/// The JSON type of a scanned value; `absent` marks a key that did not occur.
enum JSONValueKind: UInt8, Sendable {
    case absent
    case null
    case string
    case number
    case bool
    case object
    case array
}
