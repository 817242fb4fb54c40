import FoundationEssentials
import Logging
import NIOSSL

/// The network settings between the agent and Moda, read when the config is (re)loaded: the proxy
/// decision for each endpoint and the extra CAs of `delivery.caFile`. Equal values need no new HTTP
/// client; a changed proxy or CA file does (`Uploader.use(_:)`). See docs/networks.md.
public struct UpstreamNetwork: Sendable, Equatable {
    public var proxies: ProxyChoice
    public var caFile: String?
    /// The certificates of `caFile`, trusted beside the system's.
    public var trustRoots: [NIOSSLCertificate]

    public init(proxies: ProxyChoice = .direct, caFile: String? = nil, trustRoots: [NIOSSLCertificate] = []) {
        self.proxies = proxies
        self.caFile = caFile
        self.trustRoots = trustRoots
    }

    /// No proxy, the system's CAs only.
    public static let direct = UpstreamNetwork()

    /// Reads `delivery.caFile` and the proxy environment. A CA file that is missing, unreadable or holds
    /// no certificate, and a malformed proxy variable, are configuration errors naming it.
    public static func load(
        config: AgentConfig,
        configPath: String,
        environment: [String: String]
    ) throws(ConfigError) -> UpstreamNetwork {
        let proxies = try ProxyChoice.resolve(
            explicit: config.delivery.proxy,
            environment: environment,
            endpoints: [config.endpoint, config.effectiveTracesEndpoint]
        )
        guard let caFile = config.delivery.caFile else { return UpstreamNetwork(proxies: proxies) }
        return UpstreamNetwork(
            proxies: proxies,
            caFile: caFile,
            trustRoots: try trustRoots(caFile, configPath: configPath)
        )
    }

    static func trustRoots(_ caFile: String, configPath: String) throws(ConfigError) -> [NIOSSLCertificate] {
        func invalid(_ reason: String) -> ConfigError {
            .invalidValue(path: configPath, key: "delivery.caFile", reason: "(\(caFile)) \(reason)")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: caFile))
        } catch {
            throw invalid(
                "cannot be read: \(ConfigLoader.describe(error)); check the path and that the daemon's user may "
                    + "read it"
            )
        }
        guard String(decoding: data, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----") else {
            throw invalid("holds no PEM certificate; it must hold one or more BEGIN CERTIFICATE blocks")
        }
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMBytes(Array(data))
        } catch {
            throw invalid("is not a PEM certificate file (\(error)); it must hold one or more BEGIN CERTIFICATE blocks")
        }
        guard !certificates.isEmpty else {
            throw invalid("holds no PEM certificate; it must hold one or more BEGIN CERTIFICATE blocks")
        }
        return certificates
    }

    /// The TLS settings for HTTPS endpoints: the system's trust store plus `trustRoots`; nil for the
    /// client's default (the system's alone).
    var tlsConfiguration: TLSConfiguration? {
        guard !trustRoots.isEmpty else { return nil }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.additionalTrustRoots = [.certificates(trustRoots)]
        return tls
    }
}

extension UpstreamNetwork {
    /// "events go direct; trace exports go through the proxy http://<redacted>@proxy:3128 (HTTPS_PROXY);
    /// extra CAs from /etc/...": what `--check-config` says; credentials never shown.
    public func summary(config: AgentConfig) -> String {
        let events = proxies.route(for: config.endpoint)
        let traces = proxies.route(for: config.effectiveTracesEndpoint)
        var text = "events go \(events); trace exports go \(traces)"
        if let caFile { text += "; \(trustRoots.count) extra CA certificate(s) trusted from \(caFile)" }
        return text
    }

    /// The routes and CA file as log fields.
    public func logMetadata(config: AgentConfig) -> [String: Logger.MetadataValue] {
        var metadata: [String: Logger.MetadataValue] = [
            "events_route": "\(proxies.route(for: config.endpoint))",
            "traces_route": "\(proxies.route(for: config.effectiveTracesEndpoint))",
        ]
        if let caFile { metadata["ca_file"] = "\(caFile)" }
        return metadata
    }
}
