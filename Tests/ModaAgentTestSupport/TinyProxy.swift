import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Debian's tinyproxy on 127.0.0.1 with a config of its own: the HTTP proxy a company network puts
/// between the agent and Moda. Its log (`LogLevel Connect`) shows every CONNECT it was asked for.
public final class TinyProxy: Sendable {
    public static let executable = "/usr/bin/tinyproxy"
    public let port: Int
    public let logPath: String
    private let process: ChildProcess

    /// `http://127.0.0.1:PORT`, without credentials.
    public var url: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, logPath: String, process: ChildProcess) {
        self.port = port
        self.logPath = logPath
        self.process = process
    }

    /// Starts it (bounded wait until it accepts). `basicAuth`: the user and password it demands
    /// (407 without credentials, 401 with wrong ones).
    public static func start(
        in directory: TemporaryDirectory,
        basicAuth: (user: String, password: String)? = nil
    )
        async throws -> TinyProxy
    {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw TestSetupError("\(executable) is missing: apt-get install tinyproxy (.ci/run installs it)")
        }
        let id = UUID().uuidString.prefix(6)
        let logPath = directory.file("tinyproxy-\(id).log")
        for _ in 0..<5 {
            let port = try freePort()
            let configPath = directory.file("tinyproxy-\(id).conf")
            var config = """
                Port \(port)
                Listen 127.0.0.1
                Allow 127.0.0.1
                LogFile "\(logPath)"
                LogLevel Connect
                PidFile "\(directory.file("tinyproxy-\(id).pid"))"
                MaxClients 50
                Timeout 30

                """
            if let basicAuth { config += "BasicAuth \(basicAuth.user) \(basicAuth.password)\n" }
            try Data(config.utf8).write(to: URL(fileURLWithPath: configPath))
            let process = try ChildProcess(
                executable: executable,
                arguments: ["-d", "-c", configPath],
                environment: ChildProcess.cleanEnvironment(),
                stdoutPath: directory.file("tinyproxy-\(id).out"),
                stderrPath: directory.file("tinyproxy-\(id).out")
            )
            let listening = await waitFor(timeout: .seconds(10)) { !process.isRunning || canConnect(port: port) }
            if listening, process.isRunning { return TinyProxy(port: port, logPath: logPath, process: process) }
            process.signal(SIGKILL)
            _ = await process.waitForExit(timeout: .seconds(5))
        }
        throw TestSetupError(
            "tinyproxy did not start: \((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")"
        )
    }

    public func log() -> String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    /// The targets of the CONNECT requests it received, e.g. "127.0.0.1:8443".
    public var connectTargets: [String] {
        log().split(separator: "\n").compactMap { line in
            guard let range = line.range(of: "): CONNECT ") else { return nil }
            return line[range.upperBound...].split(separator: " ").first.map(String.init)
        }
    }

    public func stop() async {
        process.signal(SIGTERM)
        if await process.waitForExit(timeout: .seconds(5)) == nil {
            process.signal(SIGKILL)
            _ = await process.waitForExit(timeout: .seconds(5))
        }
    }

    /// A port nothing listens on right now (bound to 0, read, closed).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSetupError("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw TestSetupError("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
