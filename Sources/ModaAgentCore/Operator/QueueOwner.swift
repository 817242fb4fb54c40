#if canImport(Glibc)
import Glibc
#endif

/// `modactl` run as root on a queue that belongs to the service's user: commands that write act
/// as that user, so every file SQLite creates in the queue folder is one the daemon can open.
public enum QueueOwner {
    public struct Refusal: Error, CustomStringConvertible {
        public let description: String
    }

    /// Becomes the owner of `queuePath` when running as root and the file is someone else's; a
    /// no-op otherwise (and when the file does not exist: opening it reports that better).
    public static func actAsOwner(of queuePath: String, command: String) throws(Refusal) {
        guard geteuid() == 0 else { return }
        var info = stat()
        guard stat(queuePath, &info) == 0, info.st_uid != 0 else { return }
        let name = userName(info.st_uid)
        guard setgroups(0, nil) == 0, setgid(info.st_gid) == 0, setuid(info.st_uid) == 0 else {
            throw Refusal(
                description: "the queue \(queuePath) belongs to \(name) and modactl could not switch to that user "
                    + "(\(String(cString: strerror(errno)))); run it as the owner: sudo -u \(name) modactl \(command)"
            )
        }
    }

    static func userName(_ uid: uid_t) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid \(uid)" }
        return String(cString: name)
    }
}
