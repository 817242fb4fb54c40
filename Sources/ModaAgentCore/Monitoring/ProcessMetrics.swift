import CoreMetrics

#if canImport(Glibc)
import Glibc
#endif

/// The standard `process_*` metrics every Prometheus client exports, read from `/proc/self`.
struct ProcessMetrics: Sendable {
    private let resident = Meter(label: "process_resident_memory_bytes")
    private let virtual = Meter(label: "process_virtual_memory_bytes")
    private let cpu = FloatingPointCounter(label: "process_cpu_seconds_total")
    private let openFDs = Meter(label: "process_open_fds")
    private let maxFDs = Meter(label: "process_max_fds")
    private let startTime = Meter(label: "process_start_time_seconds")

    /// Sets the gauges; returns the CPU seconds so far, for the counter's next increment.
    func sample(previousCPU: Double) -> Double {
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        if let statm = Self.read("/proc/self/statm")?.split(separator: " "), statm.count >= 2,
            let size = Double(statm[0]), let rss = Double(statm[1])
        {
            virtual.set(size * pageSize)
            resident.set(rss * pageSize)
        }
        var cpuSeconds = previousCPU
        // Fields after the command name, which is in parentheses and may hold spaces.
        if let stat = Self.read("/proc/self/stat"), let close = stat.lastIndex(of: ")") {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // utime, stime and starttime are fields 14, 15 and 22 of stat(5); 3 is the first here.
            if fields.count > 19, let user = Double(fields[11]), let system = Double(fields[12]),
                let started = Double(fields[19])
            {
                cpuSeconds = (user + system) / ticks
                if let boot = Self.bootTime() { startTime.set(boot + started / ticks) }
            }
        }
        if cpuSeconds > previousCPU { cpu.increment(by: cpuSeconds - previousCPU) }
        openFDs.set(Self.countOpenFDs())
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 { maxFDs.set(Double(limit.rlim_cur)) }
        return cpuSeconds
    }

    private static func countOpenFDs() -> Int64 {
        guard let dir = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(dir) }
        var count: Int64 = 0
        while let entry = readdir(dir) {
            if entry.pointee.d_name.0 != 0x2E { count += 1 }
        }
        return count - 1  // the directory stream's own descriptor
    }

    private static func bootTime() -> Double? {
        guard let stat = read("/proc/stat") else { return nil }
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst("btime ".count))
        }
        return nil
    }

    private static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if got <= 0 { break }
            bytes.append(contentsOf: buffer[..<got])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
