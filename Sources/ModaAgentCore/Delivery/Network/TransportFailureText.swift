import AsyncHTTPClient
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

/// A request that got no answer, as the operator reads it in `status` and the logs: which hop failed
/// (the proxy, not Moda, when the proxy refused) and what to change. Never holds a credential: proxies
/// are shown by their redacted description. See docs/networks.md for each message.
enum TransportFailureText {
    static func result(
        for error: any Error,
        route: ProxyRoute,
        endpoint: String,
        timeoutSeconds: Double
    ) -> UploadResult {
        let target = EndpointAddress(endpoint).map { "\($0.host):\($0.port)" } ?? endpoint
        let via = route == .direct ? "" : " (\(route))"
        if let certificate = certificateProblem(error, target: target) {
            return .certificateRejected(certificate + via)
        }
        if case .proxy(let proxy, let setting) = route, let text = proxyProblem(error, proxy, setting, target) {
            return .transportFailure(text)
        }
        return .transportFailure(generic(error, timeoutSeconds: timeoutSeconds) + via)
    }

    /// Whether a recorded fault is the proxy's (its messages name it so), for `status`'s hint.
    static func blamesProxy(_ fault: DeliveryStatus.LastError) -> Bool {
        fault.status == nil
            && (fault.message.hasPrefix("the proxy ") || fault.message.hasPrefix("cannot connect to the proxy "))
    }

    /// Whether a recorded fault is an untrusted server certificate.
    static func isCertificateProblem(_ fault: DeliveryStatus.LastError) -> Bool {
        fault.status == nil && fault.message.hasPrefix("the TLS certificate of ")
    }

    /// The proxy answered, or could not be reached: the failure is the proxy's, whatever Moda would say.
    private static func proxyProblem(
        _ error: any Error,
        _ proxy: ProxyServer,
        _ setting: String,
        _ target: String
    )
        -> String?
    {
        let name = "the proxy \(proxy) (\(setting))"
        if let clientError = error as? HTTPClientError {
            switch clientError {
            case .proxyAuthenticationRequired:
                let fix =
                    proxy.username == nil
                    ? "put its user and password in the proxy URL (http://user:pass@host:port)"
                    : "check the user and password in the proxy URL"
                return "\(name) refused the request: 407 Proxy Authentication Required; \(fix)"
            case .invalidProxyResponse:
                return "\(name) refused to open a tunnel to \(target): its answer to CONNECT was not 2xx "
                    + "(wrong credentials, a destination or port it does not allow, or it cannot reach it)"
            case .httpProxyHandshakeTimeout:
                return "\(name) did not answer the CONNECT to \(target) in time"
            default:
                return nil
            }
        }
        // With a proxy, the agent's only TCP connection is to the proxy: a refused or unroutable one is its.
        if let code = errnoCode(in: error) {
            return "cannot connect to \(name): \(String(cString: strerror(code)))"
        }
        let text = "\(error)"
        if text.contains("NIOConnectionError") || text.contains("SocketAddressError") || text.contains("lookup") {
            return "cannot connect to \(name): \(text)"
        }
        return nil
    }

    /// A server certificate the trust store rejects: a configuration fault (`misconfigured`), not a
    /// passing outage, so nil for every other failure.
    private static func certificateProblem(_ error: any Error, target: String) -> String? {
        let hint =
            "if a proxy or firewall on this network inspects TLS, set delivery.caFile to its CA certificate (PEM)"
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return "the TLS certificate of \(target) was rejected: it is not issued for that host (\(extra))"
        }
        guard let ssl = error as? NIOSSLError, case .handshakeFailed(let reason) = ssl else { return nil }
        let text = "\(reason)"
        guard text.contains("CERTIFICATE_VERIFY_FAILED") else { return nil }
        return "the TLS certificate of \(target) was rejected: certificate verify failed (not signed by a CA "
            + "this host trusts, expired, or not valid for the name); \(hint)"
    }

    /// Everything else, by cause (Uploader.failure: a host that does not resolve, a refused connection,
    /// a timeout), so that `status` blames Moda only for what Moda answered.
    private static func generic(_ error: any Error, timeoutSeconds: Double) -> String {
        if let ssl = error as? NIOSSLError {
            return "TLS handshake failed: \(ssl)"
        }
        return Uploader.failure(error, timeoutSeconds: timeoutSeconds).message
    }

    private static func errnoCode(in error: any Error) -> Int32? {
        let text = "\(error)"
        guard let marker = text.firstRange(of: "(errno: ") else { return nil }
        return Int32(String(text[marker.upperBound...].prefix(while: \.isNumber)))
    }
}
