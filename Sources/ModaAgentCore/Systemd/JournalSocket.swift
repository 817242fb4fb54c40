#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Sends entries to journald the way sd_journal_sendv(3) does: one datagram to `/run/systemd/journal/socket`, or,
/// when the entry is too large for a datagram (EMSGSIZE, ENOBUFS, EAGAIN), the entry in a sealed memfd whose
/// descriptor goes as `SCM_RIGHTS` in an empty datagram.
///
/// Without a journal (no socket file) an entry is dropped quietly, as libsystemd does; ``LoggingSetup`` only picks
/// the journal when systemd connected stderr to it.
final class JournalSocket: Sendable {
    static let defaultPath = "/run/systemd/journal/socket"
    /// The process's connection to journald, opened on the first record.
    static let shared = JournalSocket(path: defaultPath)

    enum Delivery: Equatable {
        case datagram
        case memoryFile
        /// Nothing listens at the path: the entry was dropped.
        case noJournal
    }

    /// Where the entries go; tests bind a stand-in journal elsewhere.
    let path: String
    /// `path` as a socket address, checked once (a path too long for `sun_path` fails every send).
    private let address: Result<UnixSocketAddress, SystemdSocketError>
    /// One unbound datagram socket for every entry (sendmsg on one descriptor is safe from any thread); -1 when it
    /// could not be opened, in which case each entry opens its own.
    private let fd: CInt

    init(path: String) {
        self.path = path
        self.address = Result { () throws(SystemdSocketError) in try UnixSocketAddress(path, source: "journal socket") }
        self.fd = Self.makeSocket()
    }

    deinit {
        if self.fd >= 0 { close(self.fd) }
    }

    /// `fields` as ``JournalEntry/encode(_:)`` takes them.
    @discardableResult
    func send(_ fields: [String]) throws(SystemdSocketError) -> Delivery {
        let payload = try JournalEntry.encode(fields)
        let address = try self.address.get()
        let fd = self.fd >= 0 ? self.fd : Self.makeSocket()
        guard fd >= 0 else { throw .systemCall("socket(AF_UNIX, SOCK_DGRAM)", errno: errno) }
        defer { if fd != self.fd { close(fd) } }
        let sent = address.sendDatagram(payload, over: fd)
        if sent >= 0 {
            guard sent == payload.count else { throw .incompleteSend(sent: sent, expected: payload.count) }
            return .datagram
        }
        let code = errno
        if code == ENOENT { return .noJournal }
        guard code == EMSGSIZE || code == ENOBUFS || code == EAGAIN else {
            throw .systemCall("sendto(\(self.path))", errno: code)
        }
        let file = try SealedMemoryFile.make(name: "journal-data", contents: payload)
        defer { close(file) }
        let passed = try FileDescriptorPassing.send(file, over: fd, to: address)
        return passed ? .memoryFile : .noJournal
    }

    private static func makeSocket() -> CInt {
        socket(AF_UNIX, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
    }
}
