#if canImport(Glibc)
import Glibc
#endif

/// Names for "who may do this" messages: the group that owns a file, and who is asking.
public enum AccessHint {
    /// The group owning `path` (the socket's or the config's), or the service's group when it
    /// cannot be seen (a folder on the way is closed to this user).
    public static func groupName(ofFileAt path: String) -> String {
        var info = stat()
        guard stat(path, &info) == 0, let entry = getgrgid(info.st_gid), let name = entry.pointee.gr_name else {
            return "moda-agent"
        }
        return String(cString: name)
    }

    public static var currentUser: String {
        guard let entry = getpwuid(getuid()), let name = entry.pointee.pw_name else { return "$USER" }
        return String(cString: name)
    }

    /// Why this user cannot read the config at `path`, when that is the reason (EACCES): a user who
    /// only sends events is usually missing from the group that may read it.
    public static func configNotReadable(path: String) -> String? {
        guard access(path, R_OK) != 0, errno == EACCES else { return nil }
        let group = groupName(ofFileAt: path)
        return "cannot read the config file \(path): permission denied. Sending events needs membership in the "
            + "group \(group): ask an administrator to run `sudo usermod -aG \(group) \(currentUser)`, then log in "
            + "again; or name the socket with `modactl send --socket PATH`, which needs no config"
    }
}
