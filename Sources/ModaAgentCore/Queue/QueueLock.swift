#if canImport(Glibc)
import Glibc
#endif

/// An advisory lock on `queue.path + ".lock"` that one daemon holds for its lifetime.
/// POSIX record locks (not flock) because `F_GETLK` lets `modactl` ask who holds the lock
/// without taking it, which would race a starting daemon.
public final class QueueLock: Sendable {
    public let path: String
    private let descriptor: Int32

    public static func lockPath(forQueue queuePath: String) -> String { queuePath + ".lock" }

    public init(queuePath: String) throws(QueueError) {
        path = Self.lockPath(forQueue: queuePath)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        guard fcntl(fd, F_SETLK, &lock) == 0 else {
            let holder = Self.holder(path: path)
            Glibc.close(fd)
            throw .locked(path: queuePath, pid: holder)
        }
        descriptor = fd
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    deinit {
        Glibc.close(descriptor)
    }

    /// The pid of the daemon holding the lock, or nil when none does.
    public static func holder(path: String) -> Int32? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        guard fcntl(fd, F_GETLK, &lock) == 0, lock.l_type != Int16(F_UNLCK) else { return nil }
        return lock.l_pid
    }
}
