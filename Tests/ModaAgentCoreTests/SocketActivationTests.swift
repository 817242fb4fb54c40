import CSystemd
import Testing

@testable import ModaAgentCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What socket activation can be tested in-process: the environment handling of `LISTEN_*` (without claiming
/// fd 3, which belongs to someone else in a test runner: the passed range is moved elsewhere) and the checks on the passed socket, with real sockets.
///
/// Serialized because some tests set `LISTEN_*` process-wide.
@Suite(.serialized)
struct SocketActivationTests {
    @Test func notActivatedReturnsNil() throws {
        let environment = ListenEnvironment(fds: nil, pid: nil)
        defer { environment.restore() }
        #expect(try SocketActivation.listeningUnixStreamSocket() == nil)
    }

    @Test func variablesMeantForAnotherProcessAreIgnoredAndUnset() throws {
        let environment = ListenEnvironment(fds: "1", pid: "1")
        defer { environment.restore() }
        #expect(try SocketActivation.listeningUnixStreamSocket() == nil)
        // Unset so that children do not inherit them either.
        #expect(getenv("LISTEN_FDS") == nil)
        #expect(getenv("LISTEN_PID") == nil)
    }

    @Test func malformedListenFDsThrows() {
        let environment = ListenEnvironment(fds: "many", pid: String(getpid()))
        defer { environment.restore() }
        #expect(throws: SocketActivationError.listenFDsFailed(errno: EINVAL)) {
            try SocketActivation.listeningUnixStreamSocket()
        }
        #expect(getenv("LISTEN_FDS") == nil)
    }

    @Test func adoptsListeningUnixStreamSocket() throws {
        let socket = try TestSocket(type: SOCK_STREAM, bindPath: true, listen: true)
        #expect(try SocketActivation.adopt(count: 1, firstFD: socket.fd) == socket.fd)
    }

    @Test func noSocketsMeansNotActivated() throws {
        #expect(try SocketActivation.adopt(count: 0, firstFD: firstPassedFD) == nil)
    }

    @Test func rejectsMoreThanOneSocket() {
        #expect(throws: SocketActivationError.unexpectedSocketCount(2)) {
            try SocketActivation.adopt(count: 2, firstFD: firstPassedFD)
        }
        #expect(
            SocketActivationError.unexpectedSocketCount(2).description.contains("ListenStream= in moda-agent.socket")
        )
    }

    @Test func rejectsUnixStreamSocketThatDoesNotListen() throws {
        let socket = try TestSocket(type: SOCK_STREAM, bindPath: true, listen: false)
        #expect(throws: SocketActivationError.notAListeningUnixStreamSocket(fd: socket.fd)) {
            try SocketActivation.adopt(count: 1, firstFD: socket.fd)
        }
    }

    @Test func rejectsDatagramSocket() throws {
        let socket = try TestSocket(type: SOCK_DGRAM, bindPath: true, listen: false)
        #expect(throws: SocketActivationError.notAListeningUnixStreamSocket(fd: socket.fd)) {
            try SocketActivation.adopt(count: 1, firstFD: socket.fd)
        }
    }

    @Test func rejectsTCPSocket() throws {
        let fd = Glibc.socket(AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(bound == 0 && listen(fd, 1) == 0)
        #expect(throws: SocketActivationError.notAListeningUnixStreamSocket(fd: fd)) {
            try SocketActivation.adopt(count: 1, firstFD: fd)
        }
    }

    @Test func adoptsTheSocketNamedHTTPBesideTheIngestSocket() throws {
        let ingest = try TestSocket(type: SOCK_STREAM, bindPath: true, listen: true)
        let datagram = try TestSocket(type: SOCK_DGRAM, bindPath: true, listen: false)
        let tcp = try listeningTCPSocket()
        defer { close(tcp) }
        let first = try quietDescriptors(count: 3)
        try #require(dup2(ingest.fd, first) == first && dup2(tcp, first + 1) == first + 1)
        try #require(dup2(datagram.fd, first + 2) == first + 2)
        defer { for fd in first..<first + 3 { close(fd) } }
        #expect(
            try SocketActivation.adopt(count: 2, firstFD: first, names: ["moda-agent.socket", "http"])
                == .init(ingest: first, http: first + 1)
        )
        #expect(
            try SocketActivation.adopt(count: 1, firstFD: first + 1, names: ["http"])
                == .init(ingest: nil, http: first + 1)
        )
        #expect(throws: SocketActivationError.unexpectedSocketCount(2)) {
            try SocketActivation.adopt(count: 2, firstFD: first, names: ["http", "http"])
        }
        #expect(throws: SocketActivationError.notAListeningHTTPSocket(fd: first + 2)) {
            try SocketActivation.adopt(count: 1, firstFD: first + 2, names: ["http"])
        }
        // Unnamed, the TCP socket is taken for the ingest socket and refused as before.
        #expect(throws: SocketActivationError.notAListeningUnixStreamSocket(fd: first + 1)) {
            try SocketActivation.adopt(count: 1, firstFD: first + 1, names: ["moda-agent.socket"])
        }
    }

    private func listeningTCPSocket() throws -> CInt {
        let fd = Glibc.socket(AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        try #require(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(bound == 0 && listen(fd, 1) == 0)
        return fd
    }

    @Test func listeningSocketsIgnoresAnotherProcessesVariablesAndUnsetsThem() throws {
        let environment = ListenEnvironment(fds: "2", pid: "1", names: "moda-agent.socket:http")
        defer { environment.restore() }
        #expect(try SocketActivation.listeningSockets() == .init(ingest: nil, http: nil))
        for name in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] {
            #expect(getenv(name) == nil, "\(name)")
        }
    }

    @Test(arguments: [
        ("self", "0"), ("self", "-1"), ("self", "2147483647"), ("self", ""), ("not-a-pid", "1"),
    ])
    func malformedVariablesThrowAndAreUnset(pid: String, fds: String) {
        let environment = ListenEnvironment(fds: fds, pid: pid == "self" ? String(getpid()) : pid, names: "x")
        defer { environment.restore() }
        #expect(throws: SocketActivationError.listenFDsFailed(errno: EINVAL)) {
            try SocketActivation.listeningSockets()
        }
        #expect(getenv("LISTEN_FDS") == nil && getenv("LISTEN_PID") == nil && getenv("LISTEN_FDNAMES") == nil)
    }

    @Test func inspectingAClosedDescriptorThrows() throws {
        let fd = try quietDescriptors(count: 1)
        #expect(throws: SocketActivationError.inspectionFailed(fd: fd, errno: EBADF)) {
            try SocketActivation.adopt(count: 1, firstFD: fd)
        }
    }

    @Test func rejectsNonSocket() throws {
        var fds: [CInt] = [-1, -1]
        try #require(pipe(&fds) == 0)
        defer {
            close(fds[0])
            close(fds[1])
        }
        #expect(throws: SocketActivationError.notAListeningUnixStreamSocket(fd: fds[0])) {
            try SocketActivation.adopt(count: 1, firstFD: fds[0])
        }
    }

    @Test func errorsSayWhatToCheck() {
        let errors: [SocketActivationError] = [
            .listenFDsFailed(errno: EBADF),
            .unexpectedSocketCount(3),
            .notAListeningUnixStreamSocket(fd: 3),
            .inspectionFailed(fd: 3, errno: EBADF),
        ]
        for error in errors {
            #expect(error.description.contains("moda-agent.socket"), "\(error)")
        }
        #expect(SocketActivationError.inspectionFailed(fd: 3, errno: EBADF).description.contains("Bad file descriptor"))
        // Passed sockets on a host without libsystemd (Sources/CSystemd loads it with dlopen): the package to install.
        #expect(SocketActivationError.listenFDsFailed(errno: ELIBACC).description.contains("install libsystemd0"))
    }

    /// The tests run where the build found libsystemd's headers, so its library is there to be loaded.
    @Test func libsystemdLoadsWhereInstalled() {
        #expect(moda_sd_available() == 1, "libsystemd.so.0 could not be loaded")
    }
}

/// fd 3 as systemd passes it; only used where the descriptor is never touched.
private let firstPassedFD: CInt = 3

/// The first of `count` consecutive free descriptors, where nothing of the test runner's is open: the kernel hands
/// out the lowest free ones, so the top of the allowed range is the quiet end.
private func quietDescriptors(count: CInt) throws -> CInt {
    var limit = rlimit()
    try #require(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
    let top = CInt(min(limit.rlim_cur, 65_536)) - count
    return try #require(
        stride(from: top, to: 16, by: -1).first { base in
            (base..<base + count).allSatisfy { fcntl($0, F_GETFD) == -1 }
        }
    )
}

/// A Unix socket of the given type, bound to a short unique path in /tmp, optionally listening.
private final class TestSocket {
    let fd: CInt
    let path: String

    init(type: __socket_type, bindPath: Bool, listen shouldListen: Bool) throws {
        self.path = "/tmp/moda-sa-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        self.fd = socket(AF_UNIX, CInt(type.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard self.fd >= 0 else { throw SocketTestError("socket() failed: errno \(errno)") }
        guard bindPath else { return }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(self.path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(self.fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw SocketTestError("bind(\(self.path)) failed: errno \(errno)") }
        if shouldListen {
            guard listen(self.fd, 16) == 0 else { throw SocketTestError("listen failed: errno \(errno)") }
        }
    }

    deinit {
        close(self.fd)
        unlink(self.path)
    }
}

private struct SocketTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Sets `LISTEN_FDS`/`LISTEN_PID`/`LISTEN_FDNAMES` (nil: unset); ``restore()`` puts back what was there.
private struct ListenEnvironment {
    private static let names = ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"]
    private let saved: [String?]

    init(fds: String?, pid: String?, names: String? = nil) {
        self.saved = Self.names.map { name in getenv(name).map { String(cString: $0) } }
        Self.apply([fds, pid, names])
    }

    func restore() {
        Self.apply(self.saved)
    }

    private static func apply(_ values: [String?]) {
        for (name, value) in zip(self.names, values) {
            if let value { setenv(name, value, 1) } else { unsetenv(name) }
        }
    }
}
