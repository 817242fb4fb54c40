#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Whether the daemon may create files in the folder of its queue or socket, and when not, a sentence naming the fix.
///
/// In a container the usual cause is a volume owned by another uid than the image's user (a host folder made by
/// root, a Kubernetes hostPath): SQLite or bind(2) would only say "permission denied" about a file that does not
/// exist yet (docs/containers.md, "Volumes").
public enum FolderAccess {
    /// nil when the folder is missing (the daemon creates it) or this process may create files in it.
    public static func problem(folder: String, setting: String) -> String? {
        var info = stat()
        guard stat(folder, &info) == 0, access(folder, W_OK | X_OK) != 0, errno == EACCES else { return nil }
        return describe(
            folder: folder,
            setting: setting,
            owner: info.st_uid,
            group: info.st_gid,
            mode: info.st_mode & 0o7777,
            uid: geteuid(),
            gid: getegid()
        )
    }

    static func describe(
        folder: String,
        setting: String,
        owner: uid_t,
        group: gid_t,
        mode: mode_t,
        uid: uid_t,
        gid: gid_t
    ) -> String {
        let octal = String(mode, radix: 8)
        return "the folder \(folder) (\(setting)) belongs to uid \(owner), gid \(group) with mode "
            + "\(octal.count < 4 ? "0" : "")\(octal), and moda-agent runs as uid \(uid), gid \(gid): it cannot "
            + "create files there. Give the folder to that user (`chown -R \(uid):\(gid) \(folder)` where the volume "
            + "lives, e.g. on the host for a bind mount or hostPath; in Kubernetes, securityContext.fsGroup: \(gid) "
            + "for volumes that support it), or run the agent as uid \(owner), or point \(setting) elsewhere"
    }
}
