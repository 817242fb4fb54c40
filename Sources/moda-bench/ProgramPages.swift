#if canImport(Glibc)
import Glibc
#endif

/// The daemon's program file as it is after a boot: not in the page cache. How much of a program a
/// process keeps resident depends on how its file's pages sit in the cache: the kernel maps the
/// cached pages around each page a process touches (fault-around), and a file just written by a build
/// or `cp` is cached whole, in larger pieces than pages read back on demand. The same binary measured
/// idle 12.7 MiB freshly copied and 11.9-12.1 MiB as an older file, and two builds compared that way
/// differed by what their files had been through, not by their code (docs/performance.md). Each start
/// therefore begins with the program out of the cache, so binaries compared side by side start alike.
enum ProgramPages {
    /// Best effort: a file that cannot be opened is left as it is (the start then reports why).
    static func evict(_ path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        // Dirty pages (a binary copied moments ago) are not dropped: write them first.
        _ = fsync(fd)
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
    }
}
