#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How to start or reload the daemon, said the way this machine runs it: systemd's unit on a systemd host, the
/// agent's container inside a container (where `systemctl` does not exist; docs/containers.md), the program itself
/// elsewhere.
public enum StartHint {
    public enum Host: Sendable, Equatable {
        case systemd
        case container
        case plain
    }

    /// systemd is PID 1 exactly when /run/systemd/system exists (sd_booted(3)); podman leaves /run/.containerenv,
    /// Docker /.dockerenv, and Kubernetes sets KUBERNETES_SERVICE_HOST in every container.
    public static func detect() -> Host {
        if access("/run/systemd/system", F_OK) == 0 { return .systemd }
        if access("/run/.containerenv", F_OK) == 0 || access("/.dockerenv", F_OK) == 0
            || getenv("KUBERNETES_SERVICE_HOST") != nil
        {
            return .container
        }
        return .plain
    }

    /// What starts the daemon, to follow "start it with" / "Start the daemon:".
    public static func start(on host: Host = detect()) -> String {
        switch host {
        case .systemd: return "`systemctl start moda-agent`"
        case .container: return "the moda-agent container (`podman start`, `docker start` or its pod)"
        case .plain: return "`moda-agent --config PATH`"
        }
    }

    /// What makes a running daemon read its config and key again.
    public static func reload(on host: Host = detect()) -> String {
        switch host {
        case .systemd: return "`systemctl reload moda-agent`"
        case .container: return "`podman kill --signal HUP` (or `docker kill --signal HUP`) on the agent's container"
        case .plain: return "`kill -HUP` on the daemon"
        }
    }
}
