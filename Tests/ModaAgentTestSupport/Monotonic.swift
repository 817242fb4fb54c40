#if canImport(Glibc)
import Glibc
#endif

/// Time as nanoseconds on CLOCK_MONOTONIC: one integer timeline for every thread of the bench and
/// the mock server, cheap enough to take per line and small enough to compare across threads (the
/// mock stamps the moments the benchmark's scenarios are timed against with it, see `MockTally`).
public enum Monotonic {
    public static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }

    /// Seconds from `start` to `end` (0 if `end` is not later).
    public static func seconds(from start: UInt64, to end: UInt64) -> Double {
        end > start ? Double(end - start) / 1e9 : 0
    }

    /// Sleeps until `deadline` on this clock; an absolute deadline keeps paced loops from drifting.
    public static func sleep(until deadline: UInt64) {
        var spec = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &spec, nil) == EINTR {}
    }

    public static func sleep(seconds: Double) {
        sleep(until: now() + UInt64(max(0, seconds) * 1e9))
    }
}
