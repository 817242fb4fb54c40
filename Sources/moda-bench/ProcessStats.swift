import Foundation

/// A process's memory and CPU from /proc, the figures `ps` and `top` show: VmRSS (resident
/// now), VmHWM (peak resident since start), and user + system CPU time. RssAnon (heap, stacks,
/// SQLite's page cache) and RssFile (code and data of the binary and libraries) tell where the
/// resident memory is.
enum ProcessStats {
    struct Memory {
        let residentMiB: Double
        let peakMiB: Double
        let anonymousMiB: Double
        let fileMiB: Double

        /// "31.0 MiB (anon 2.9, file 28.1)", for progress lines.
        var breakdown: String {
            "\(Unit.mebibytes.format(residentMiB)) MiB (anon \(Unit.mebibytes.format(anonymousMiB)), "
                + "file \(Unit.mebibytes.format(fileMiB)))"
        }
    }

    static func memory(pid: Int32) -> Memory? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func kibibytes(_ name: String) -> Double? {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else {
                return nil
            }
            return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Double($0) }
        }
        guard let resident = kibibytes("VmRSS"), let peak = kibibytes("VmHWM") else { return nil }
        return Memory(
            residentMiB: resident / 1024,
            peakMiB: peak / 1024,
            anonymousMiB: (kibibytes("RssAnon") ?? 0) / 1024,
            fileMiB: (kibibytes("RssFile") ?? 0) / 1024
        )
    }

    /// User + system CPU seconds the process has used so far.
    static func cpuSeconds(pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm)" come the fields from 3 (state) on; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
