import Foundation
import ModaAgentTestSupport

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
        guard let kib = ProcessMemory.kibibytes(pid: pid), let resident = kib["VmRSS"], let peak = kib["VmHWM"] else {
            return nil
        }
        return Memory(
            residentMiB: Double(resident) / 1024,
            peakMiB: Double(peak) / 1024,
            anonymousMiB: Double(kib["RssAnon"] ?? 0) / 1024,
            fileMiB: Double(kib["RssFile"] ?? 0) / 1024
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
