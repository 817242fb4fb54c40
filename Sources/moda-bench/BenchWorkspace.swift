import Foundation

/// A fresh folder for one daemon's config, queue, socket and log, under `root` (default /tmp:
/// short enough for a Unix socket path, and on this machine the same ext4 disk as the rest, so
/// durability `full` pays a real fsync; `moda-bench` warns when it is tmpfs). Removed when the
/// scenario is done, or kept with its log when a run failed.
final class BenchWorkspace {
    let path: String

    init(root: String) throws(BenchFailure) {
        var template = Array("\(root)/moda-bench-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress.flatMap { mkdtemp($0) }
        }
        guard made != nil else { throw .system("cannot create a folder under \(root)") }
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func file(_ name: String) -> String {
        "\(path)/\(name)"
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// True when `root` is on a tmpfs (or ramfs), where fsync costs nothing and durability `full`
    /// would flatter: the mount with the longest mount point that holds `root`, from /proc/mounts.
    static func isTmpfs(_ root: String) -> Bool {
        let resolved = URL(fileURLWithPath: root).resolvingSymlinksInPath().path
        guard let mounts = try? String(contentsOfFile: "/proc/mounts", encoding: .utf8) else { return false }
        var best = (point: "", type: "")
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 2 else { continue }
            let point = String(fields[1])
            let holds = resolved == point || resolved.hasPrefix(point == "/" ? "/" : point + "/")
            if holds, point.count > best.point.count { best = (point, String(fields[2])) }
        }
        return best.type == "tmpfs" || best.type == "ramfs"
    }
}
