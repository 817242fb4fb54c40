#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The sending half of the service manager's notify protocol (what sd_notify(3) does): the newline-separated
/// assignments go as one datagram to the `AF_UNIX` socket that `NOTIFY_SOCKET` names.
///
/// A socket per message: the daemon notifies a few times at start and stop, then once per heartbeat at most, so
/// keeping one open would buy nothing but a descriptor to manage.
enum NotifySocket {
    enum Outcome: Equatable {
        case sent
        /// `NOTIFY_SOCKET` is unset: not started by systemd (or not as `Type=notify`), nothing to tell.
        case notUnderSystemd
    }

    /// Reads `NOTIFY_SOCKET` on every call and leaves it in place, like `sd_notify(0, state)`.
    static func send(_ state: String) throws(SystemdSocketError) -> Outcome {
        guard let target = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }) else { return .notUnderSystemd }
        try self.send(state, to: UnixSocketAddress(target, source: "NOTIFY_SOCKET"))
        return .sent
    }

    static func send(_ state: String, to address: UnixSocketAddress) throws(SystemdSocketError) {
        let fd = socket(AF_UNIX, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .systemCall("socket(AF_UNIX, SOCK_DGRAM)", errno: errno) }
        defer { close(fd) }
        let payload = Array(state.utf8)
        let sent = address.sendDatagram(payload, over: fd)
        guard sent >= 0 else { throw .systemCall("sendto(\(address.text))", errno: errno) }
        guard sent == payload.count else { throw .incompleteSend(sent: sent, expected: payload.count) }
    }
}
