/// An HTTP proxy that upstream requests go through (`delivery.proxy`, or `HTTPS_PROXY` and friends):
/// `http://[user:pass@]host:port`. HTTPS goes through it by `CONNECT`; the credentials are sent to the
/// proxy as Basic `Proxy-Authorization` and never shown: `description` redacts them (docs/networks.md).
public struct ProxyServer: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?

    public init(host: String, port: Int, username: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
    }

    /// `http://host:port`, or `http://<redacted>@host:port` when it carries credentials: the only way
    /// a proxy is ever printed (logs, status, `--check-config`).
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "http://\(username == nil ? "" : "<redacted>@")\(shownHost):\(port)"
    }

    /// Why a proxy URL was refused. The text never repeats the URL's credentials.
    public struct ParseError: Error, Sendable, Equatable {
        public var reason: String
    }

    /// Parses a proxy URL. `lenient` is how curl reads the environment: the scheme may be left out
    /// (`proxy.corp:3128`) and the port too (curl's default, 1080). The config key wants both spelt out.
    public static func parse(_ text: String, lenient: Bool) throws(ParseError) -> ProxyServer {
        let trimmed = text.trimmingWhitespace()
        guard !trimmed.isEmpty else { throw ParseError(reason: "is empty") }
        var rest = Substring(trimmed)
        if let schemeEnd = rest.firstRange(of: "://") {
            let scheme = rest[..<schemeEnd.lowerBound].lowercased()
            guard scheme == "http" else {
                throw ParseError(
                    reason: "uses the scheme \"\(scheme)://\"; only http:// proxies are supported "
                        + "(HTTPS still goes through them, by CONNECT)"
                )
            }
            rest = rest[schemeEnd.upperBound...]
        } else if !lenient {
            throw ParseError(reason: "must start with http://, as in \"http://proxy.example.com:3128\"")
        }
        // What follows the authority: only a bare "/" is meaningful for a proxy.
        if let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) {
            guard rest[slash...] == "/" else {
                throw ParseError(reason: "must not have a path; write it as http://[user:pass@]host:port")
            }
            rest = rest[..<slash]
        }
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let colon = credentials.firstIndex(of: ":")
            let user = colon.map { credentials[..<$0] } ?? credentials
            let pass = colon.map { credentials[credentials.index(after: $0)...] } ?? ""
            guard let decodedUser = percentDecoded(user), let decodedPass = percentDecoded(pass) else {
                throw ParseError(reason: "has credentials with a malformed %-escape")
            }
            guard !decodedUser.isEmpty else { throw ParseError(reason: "has credentials without a user name") }
            username = decodedUser
            password = decodedPass
        }
        let (host, portText) = try splitHostPort(rest)
        guard !host.isEmpty else { throw ParseError(reason: "has no host; write it as http://[user:pass@]host:port") }
        let port: Int
        if let portText {
            guard let number = Int(portText), (1...65535).contains(number) else {
                throw ParseError(reason: "has the port \"\(portText)\"; it must be a number from 1 to 65535")
            }
            port = number
        } else if lenient {
            port = 1080
        } else {
            throw ParseError(reason: "has no port; write it as http://[user:pass@]host:port")
        }
        return ProxyServer(host: host, port: port, username: username, password: password)
    }

    /// `host:port`, `[v6]:port`, `host` or `[v6]`.
    private static func splitHostPort(_ authority: Substring) throws(ParseError) -> (String, Substring?) {
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw ParseError(reason: "has an IPv6 address without its closing \"]\"")
            }
            let host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.isEmpty { return (host, nil) }
            guard after.hasPrefix(":") else { throw ParseError(reason: "has text after the IPv6 address") }
            return (host, after.dropFirst())
        }
        guard let colon = authority.lastIndex(of: ":") else { return (String(authority).lowercased(), nil) }
        let host = authority[..<colon]
        guard !host.contains(":") else {
            throw ParseError(reason: "has an IPv6 address; put it in brackets, as in http://[::1]:3128")
        }
        return (String(host).lowercased(), authority[authority.index(after: colon)...])
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            else { return nil }
            bytes.append(value)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
