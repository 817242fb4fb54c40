/// A configuration fault. Every message names the file or key at fault and says what to do;
/// both programs exit 78 (EX_CONFIG) on it.
public enum ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadableFile(path: String, reason: String)
    case malformed(path: String, reason: String)
    case unknownKey(path: String, key: String, known: [String])
    case invalidValue(path: String, key: String, reason: String)
    case missingAPIKey(apiKeyFile: String)
    case unreadableAPIKey(path: String, reason: String)
    /// A proxy variable of the environment (`HTTPS_PROXY`, ...) that cannot be used.
    case invalidEnvironment(name: String, reason: String)
    /// `redaction.hashKeyFile` missing, empty, or open to group or others.
    case redactionKey(path: String, reason: String)

    public static let exitCode: Int32 = 78

    public var description: String {
        switch self {
        case .unreadableFile(let path, let reason):
            return "cannot read config file \(path): \(reason). Create it (config.example.json shows every key) "
                + "or point --config or MODA_AGENT_CONFIG at one."
        case .malformed(let path, let reason):
            return
                "config file \(path) is not valid JSON: \(reason). Fix the syntax; config.example.json is a valid example."
        case .unknownKey(let path, let key, let known):
            return "config file \(path): unknown key \"\(key)\". Remove it or fix its spelling; "
                + "known keys here: \(known.joined(separator: ", "))."
        case .invalidValue(let path, let key, let reason):
            return "config file \(path): \(key) \(reason)."
        case .missingAPIKey(let apiKeyFile):
            return "no Moda API key found: set MODA_API_KEY, pass the systemd credential \"api-key\" "
                + "(LoadCredential=api-key:...), or write the key to \(apiKeyFile) (the config's apiKeyFile)."
        case .unreadableAPIKey(let path, let reason):
            return "cannot read the API key file \(path): \(reason). Check its permissions, "
                + "or set apiKeyFile in the config to the right file."
        case .invalidEnvironment(let name, let reason):
            return "environment variable \(name) \(reason). Fix or unset it, or set delivery.proxy in the config "
                + "(docs/networks.md)."
        case .redactionKey(let path, let reason):
            return "redaction.hashKeyFile \(path) \(reason)."
        }
    }
}
