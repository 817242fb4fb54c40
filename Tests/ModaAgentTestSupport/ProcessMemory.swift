import Foundation

/// Resident memory of a process, from /proc: what an operator's `ps` or `systemctl status` shows.
public enum ProcessMemory {
    /// VmRSS (current) and VmHWM (peak) in KiB.
    public static func rss(pid: Int32) -> (current: Int, peak: Int)? {
        guard let kib = kibibytes(pid: pid), let current = kib["VmRSS"], let peak = kib["VmHWM"] else { return nil }
        return (current, peak)
    }

    /// Every `Name:  N kB` line of /proc/PID/status (VmRSS, VmHWM, RssAnon, RssFile, …), in KiB.
    public static func kibibytes(pid: Int32) -> [String: Int]? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        var fields: [String: Int] = [:]
        for line in status.split(separator: "\n") where line.hasSuffix(" kB") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count == 3, parts[0].hasSuffix(":"), let value = Int(parts[1]) else { continue }
            fields[String(parts[0].dropLast())] = value
        }
        return fields
    }
}
