#if canImport(Glibc)
import Glibc
#endif

/// A few megabytes set aside beside the queue (`queue.db.reserve`) for the one write that must
/// never fail: removing delivered events. On a full disk, ingest is refused (retryable) while the
/// queue writer frees the reserve, so deliveries can still be deleted and space comes back; without
/// it, a full disk would leave delivered events in the queue to be sent again and again.
public final class DiskReserve: @unchecked Sendable {
    // @unchecked: used only on the queue writer's serial queue.
    public let path: String
    public let size: Int
    private var lastAttempt: Double = 0

    public init(queuePath: String, size: Int = 2 << 20) {
        path = queuePath + ".reserve"
        self.size = size
    }

    public var isHeld: Bool {
        var info = stat()
        return stat(path, &info) == 0 && Int(info.st_size) >= size
    }

    /// Creates the reserve if missing; at most once every 10 s, so a nearly full disk is not
    /// hammered. Returns whether it is held.
    @discardableResult
    public func ensure(now: Double = Timestamp.now()) -> Bool {
        if isHeld { return true }
        guard now - lastAttempt >= 10 else { return false }
        lastAttempt = now
        // Only when the disk has room for it twice over: taking the last free blocks back at once
        // would just fill the disk again.
        var fs = statvfs()
        let folder = path.lastIndex(of: "/").map { String(path[...$0]) } ?? "."
        guard statvfs(folder, &fs) == 0,
            Int(fs.f_bavail) * Int(fs.f_frsize) >= 2 * size
        else { return false }
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        // Allocated blocks, not a sparse file: only real blocks can be given back later.
        guard posix_fallocate(fd, 0, off_t(size)) == 0, fsync(fd) == 0 else {
            ftruncate(fd, 0)
            unlink(path)
            return false
        }
        return true
    }

    /// Gives the space back to the filesystem. Returns whether there was anything to give.
    @discardableResult
    public func release() -> Bool {
        unlink(path) == 0
    }
}
