import Foundation

/// Resident memory of a process, from /proc: what an operator's `ps` or `systemctl status` shows.
public enum ProcessMemory {
    /// VmRSS (current) and VmHWM (peak) in KiB.
    public static func rss(pid: Int32) -> (current: Int, peak: Int)? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Int? {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else {
                return nil
            }
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        guard let current = field("VmRSS"), let peak = field("VmHWM") else { return nil }
        return (current, peak)
    }
}
