/// How requests to one endpoint travel: straight to it, or through a proxy, with where that proxy
/// was configured (`delivery.proxy`, `HTTPS_PROXY`, ...) so messages can say which setting to fix.
public enum ProxyRoute: Sendable, Hashable, CustomStringConvertible {
    case direct
    case proxy(ProxyServer, setting: String)

    public var proxy: ProxyServer? {
        if case .proxy(let server, _) = self { return server }
        return nil
    }

    /// "direct", or "through the proxy http://<redacted>@proxy:3128 (HTTPS_PROXY)": credentials never shown.
    public var description: String {
        switch self {
        case .direct: return "direct"
        case .proxy(let server, let setting): return "through the proxy \(server) (\(setting))"
        }
    }
}

/// Which proxy, if any, each endpoint's requests use (docs/networks.md): `delivery.proxy` takes every
/// request; when it is null, the environment as curl reads it: `https_proxy`/`HTTPS_PROXY` for https
/// endpoints, `http_proxy`/`HTTP_PROXY` for http ones (lower case first), minus the hosts `no_proxy`/
/// `NO_PROXY` exempts. Pure: the environment is read once, when the config is (re)loaded.
public struct ProxyChoice: Sendable, Equatable {
    var explicit: ProxyServer?
    var https: ProxyRoute = .direct
    var http: ProxyRoute = .direct
    var noProxy = NoProxyList(nil)

    /// No proxy anywhere.
    public static let direct = ProxyChoice()

    init(explicit: ProxyServer? = nil, https: ProxyRoute = .direct, http: ProxyRoute = .direct, noProxy: NoProxyList) {
        self.explicit = explicit
        self.https = https
        self.http = http
        self.noProxy = noProxy
    }

    private init() {}

    /// `endpoints` are the URLs that will be used: only the variables for their schemes are read, so an
    /// unrelated malformed one does not stop the daemon.
    public static func resolve(
        explicit: ProxyServer?,
        environment: [String: String],
        endpoints: [String]
    ) throws(ConfigError) -> ProxyChoice {
        if let explicit { return ProxyChoice(explicit: explicit, noProxy: NoProxyList(nil)) }
        let schemes = endpoints.compactMap { EndpointAddress($0)?.isHTTPS }
        var choice = ProxyChoice(noProxy: NoProxyList(variable(["no_proxy", "NO_PROXY"], in: environment)?.value))
        if schemes.contains(true) { choice.https = try route(["https_proxy", "HTTPS_PROXY"], in: environment) }
        if schemes.contains(false) { choice.http = try route(["http_proxy", "HTTP_PROXY"], in: environment) }
        return choice
    }

    /// The route for requests to `endpoint`.
    public func route(for endpoint: String) -> ProxyRoute {
        if let explicit { return .proxy(explicit, setting: "delivery.proxy") }
        guard let address = EndpointAddress(endpoint) else { return .direct }
        let fromEnvironment = address.isHTTPS ? https : http
        guard fromEnvironment != .direct, !noProxy.exempts(host: address.host, port: address.port) else {
            return .direct
        }
        return fromEnvironment
    }

    private static func variable(_ names: [String], in environment: [String: String]) -> (name: String, value: String)?
    {
        for name in names {
            if let value = environment[name], !value.trimmingWhitespace().isEmpty { return (name, value) }
        }
        return nil
    }

    private static func route(_ names: [String], in environment: [String: String]) throws(ConfigError) -> ProxyRoute {
        guard let (name, value) = variable(names, in: environment) else { return .direct }
        do {
            return .proxy(try ProxyServer.parse(value, lenient: true), setting: name)
        } catch {
            throw .invalidEnvironment(name: name, reason: error.reason)
        }
    }
}
