/// Why the mock server could not start.
public enum MockServerError: Error, CustomStringConvertible {
    case noPort

    public var description: String {
        switch self {
        case .noPort: "the mock server's socket has no port"
        }
    }
}
