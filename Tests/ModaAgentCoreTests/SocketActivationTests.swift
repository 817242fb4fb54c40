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

    /// Without `LISTEN_FDNAMES` every descriptor is `unknown` (so none is taken for the `http` one), and each
    /// passed descriptor is made close-on-exec.
    @Test func missingNamesAreUnknownAndDescriptorsBecomeCloseOnExec() throws {
        let first = try passedRange(count: 2)
        defer { for fd in first..<first + 2 { close(fd) } }
        for fd in first..<first + 2 {
            try #require(fcntl(fd, F_GETFD) & FD_CLOEXEC == 0)
        }
        let environment = ListenEnvironment(fds: "2", pid: String(getpid()), names: nil)
        defer { environment.restore() }
        #expect(try ListenFDs.names(firstFD: first) == ["unknown", "unknown"])
        for fd in first..<first + 2 {
            #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0, "fd \(fd)")
        }
        #expect(getenv("LISTEN_FDS") == nil && getenv("LISTEN_PID") == nil)
    }

    @Test(arguments: [
        ("moda-agent.socket:http", ["moda-agent.socket", "http"] as [String]?),
        ("a:", ["a", ""]),
        (":", ["", ""]),
        // The count must match LISTEN_FDS exactly.
        ("a:b:c", nil),
        ("only-one", nil),
        ("", nil),
    ])
    func namesAreTakenAsListed(names: String, expected: [String]?) throws {
        let first = try passedRange(count: 2)
        defer { for fd in first..<first + 2 { close(fd) } }
        let environment = ListenEnvironment(fds: "2", pid: String(getpid()), names: names)
        defer { environment.restore() }
        if let expected {
            #expect(try ListenFDs.names(firstFD: first) == expected)
        } else {
            #expect(throws: SocketActivationError.listenFDsFailed(errno: EINVAL)) {
                try ListenFDs.names(firstFD: first)
            }
        }
        #expect(getenv("LISTEN_FDNAMES") == nil)
    }

    @Test func aClosedDescriptorInThePassedRangeIsAnError() throws {
        // Two free descriptors, only the first of them passed.
        let first = try quietDescriptors(count: 2)
        let socket = try TestSocket(type: SOCK_STREAM, bindPath: true, listen: true)
        try #require(dup2(socket.fd, first) == first)
        defer { close(first) }
        let environment = ListenEnvironment(fds: "2", pid: String(getpid()), names: nil)
        defer { environment.restore() }
        #expect(throws: SocketActivationError.listenFDsFailed(errno: EBADF)) {
            try ListenFDs.count(firstFD: first)
        }
    }

    @Test func unixSocketInspectionMatchesPathsAsLibsystemdDoes() throws {
        let bound = try TestSocket(type: SOCK_STREAM, bindPath: true, listen: true)
        let stream = CInt(SOCK_STREAM.rawValue)
        #expect(try SocketInspection.isUnixSocket(bound.fd, type: stream, listening: true, path: bound.path))
        #expect(try SocketInspection.isUnixSocket(bound.fd, type: 0, listening: nil, path: bound.path))
        #expect(try !SocketInspection.isUnixSocket(bound.fd, type: stream, listening: true, path: bound.path + "x"))
        #expect(try !SocketInspection.isUnixSocket(bound.fd, type: stream, listening: true, path: "/tmp"))
        #expect(try !SocketInspection.isUnixSocket(bound.fd, type: stream, listening: false))
        #expect(try !SocketInspection.isUnixSocket(bound.fd, type: stream, listening: true, path: ""))
        #expect(try SocketInspection.isSocket(bound.fd, family: AF_UNIX, type: stream, listening: true))
        #expect(try !SocketInspection.isSocket(bound.fd, family: AF_INET, type: stream, listening: true))

        let unnamed = Glibc.socket(AF_UNIX, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        try #require(unnamed >= 0)
        defer { close(unnamed) }
        let dgram = CInt(SOCK_DGRAM.rawValue)
        #expect(try SocketInspection.isUnixSocket(unnamed, type: dgram, listening: nil, path: ""))
        #expect(try !SocketInspection.isUnixSocket(unnamed, type: dgram, listening: nil, path: "@x"))

        let named = Glibc.socket(AF_UNIX, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        try #require(named >= 0)
        defer { close(named) }
        let name = "moda-sa-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: [0] + Array(name.utf8)) }
        let bound2 = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(named, $0, socklen_t(MemoryLayout<sa_family_t>.size + 1 + name.utf8.count))
            }
        }
        try #require(bound2 == 0)
        #expect(try SocketInspection.isUnixSocket(named, type: dgram, listening: false, path: "@" + name))
        #expect(try !SocketInspection.isUnixSocket(named, type: dgram, listening: false, path: "@" + name.dropLast()))
        #expect(try !SocketInspection.isUnixSocket(named, type: dgram, listening: false, path: "/" + name))
    }

    @Test func inspectingAClosedDescriptorThrows() throws {
        let fd = try quietDescriptors(count: 1)
        #expect(throws: SocketActivationError.inspectionFailed(fd: fd, errno: EBADF)) {
            try SocketActivation.adopt(count: 1, firstFD: fd)
        }
    }

    /// `count` listening Unix stream sockets on consecutive descriptors where nothing else is open, as systemd
    /// passes them (without close-on-exec, which ListenFDs sets); the caller closes them.
    private func passedRange(count: Int) throws -> CInt {
        let first = try quietDescriptors(count: CInt(count))
        for index in 0..<count {
            let socket = try TestSocket(type: SOCK_STREAM, bindPath: true, listen: true)
            let fd = first + CInt(index)
            try #require(dup2(socket.fd, fd) == fd)
        }
        return first
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
