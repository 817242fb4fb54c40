/// Why delivery stopped sending until the configuration changes (or `retryMaxSeconds` passes).
/// The raw values are the `delivery.state` words of `modactl status`.
public enum PauseReason: String, Sendable {
    /// 401/403: the API key is missing, wrong or revoked.
    case unauthorized
    /// 404 or a redirect: `endpoint` does not name the ingest API.
    case misconfigured
}
