import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// Finds the Moda API key in the order docs/configuration.md fixes: `MODA_API_KEY`, the systemd credential
/// `$CREDENTIALS_DIRECTORY/api-key`, the `apiKeyFile`, the literal `apiKey`. First found wins.
public enum APIKeyResolver {
    public enum Source: String, Sendable {
        case environment = "MODA_API_KEY"
        case credential = "systemd credential api-key"
        case file = "apiKeyFile"
        case literal = "apiKey"
    }

    public struct Resolved: Sendable, Equatable {
        public var key: String
        public var source: Source
    }

    public static func resolve(config: AgentConfig, environment: [String: String]) throws(ConfigError) -> Resolved {
        if let key = environment["MODA_API_KEY"]?.trimmingWhitespace(), !key.isEmpty {
            return Resolved(key: key, source: .environment)
        }
        if let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty,
            let key = try readKeyFile(directory.hasSuffix("/") ? directory + "api-key" : directory + "/api-key")
        {
            return Resolved(key: key, source: .credential)
        }
        if let key = try readKeyFile(config.apiKeyFile) {
            return Resolved(key: key, source: .file)
        }
        if let key = config.apiKey?.trimmingWhitespace(), !key.isEmpty {
            return Resolved(key: key, source: .literal)
        }
        throw .missingAPIKey(apiKeyFile: config.apiKeyFile)
    }

    /// A missing file means "not this source"; a file that exists but cannot be read is a fault
    /// worth stopping for, since the operator clearly meant it to be used.
    private static func readKeyFile(_ path: String) throws(ConfigError) -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadableAPIKey(
                path: path,
                reason: String(cString: strerror(access(path, R_OK) == 0 ? EIO : errno))
            )
        }
        let key = String(decoding: data, as: UTF8.self).trimmingWhitespace()
        return key.isEmpty ? nil : key
    }
}
