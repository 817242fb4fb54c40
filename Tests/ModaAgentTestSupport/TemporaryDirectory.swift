import Foundation

/// A fresh folder under /tmp, short enough for Unix socket paths (108 bytes), removed on `remove()`.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init() {
        let name = "moda-\(UUID().uuidString.prefix(8))"
        path = "/tmp/\(name)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func file(_ name: String) -> String { "\(path)/\(name)" }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
