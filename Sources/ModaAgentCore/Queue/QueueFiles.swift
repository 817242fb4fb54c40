#if canImport(Glibc)
import Glibc
#endif

/// The queue's files hold conversation text (dead letters included): the folder is private to
/// the daemon's user and every file in it 0600, whatever the umask it was started with. Under
/// systemd the folder is the service's state directory, which systemd creates 0750; the daemon
/// then finds it and leaves it as it is.
public enum QueueFiles {
    /// The database and the files kept beside it.
    public static func paths(queuePath: String) -> [String] {
        [queuePath, queuePath + "-wal", queuePath + "-shm", QueueLock.lockPath(forQueue: queuePath), queuePath + ".reserve"]
    }

    public static func folder(of queuePath: String) -> String {
        guard let slash = queuePath.lastIndex(of: "/") else { return "." }
        let folder = String(queuePath[..<slash])
        return folder.isEmpty ? "/" : folder
    }

    /// Creates the queue's folder (and any missing parent) 0700 when it does not exist yet; refuses, naming the
    /// fix, one this process cannot write in.
    public static func prepareFolder(queuePath: String) throws(QueueError) {
        let folder = folder(of: queuePath)
        try makeFolder(folder, mode: 0o700)
        if let problem = FolderAccess.problem(folder: folder, setting: "queue.path") {
            throw .folderNotWritable(problem: problem)
        }
    }

    /// Creates `path` and its missing parents with exactly `mode`, whatever the umask.
    public static func makeFolder(_ path: String, mode: mode_t) throws(QueueError) {
        var info = stat()
        if stat(path, &info) == 0 { return }
        let parent = folder(of: path)
        if parent != path, parent != "." { try makeFolder(parent, mode: mode) }
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw .cannotCreateDirectory(path: path, reason: String(cString: strerror(errno)))
        }
        // mkdir applies the umask; the folder's privacy must not depend on it.
        _ = chmod(path, mode)
    }

    /// Queue files that users other than the owner may read or write, each with an operator's
    /// sentence saying what to do: files made before permissions were enforced, or by hand.
    public static func exposedFiles(queuePath: String) -> [String] {
        var warnings: [String] = []
        for path in paths(queuePath: queuePath) {
            var info = stat()
            guard stat(path, &info) == 0, info.st_mode & 0o077 != 0 else { continue }
            let mode = String(info.st_mode & 0o777, radix: 8)
            warnings.append(
                "queue file \(path) is open to other users (mode 0\(mode)); it holds conversation text: "
                    + "run `chmod 600 \(path)`"
            )
        }
        return warnings
    }
}
