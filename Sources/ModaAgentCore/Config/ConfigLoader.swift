import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// Reads and checks the JSON config file (docs/configuration.md): unknown keys, wrong types and out-of-range values
/// are refused with the key's dotted path; everything absent takes its default.
public enum ConfigLoader {
    public static let defaultPath = "/etc/moda-agent/config.json"

    /// `--config` wins, then `$MODA_AGENT_CONFIG`, then the default path.
    public static func resolvePath(flag: String?, environment: [String: String]) -> String {
        if let flag, !flag.isEmpty { return flag }
        if let fromEnv = environment["MODA_AGENT_CONFIG"], !fromEnv.isEmpty { return fromEnv }
        return defaultPath
    }

    public static func load(path: String) throws(ConfigError) -> AgentConfig {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadableFile(path: path, reason: describe(error))
        }
        return try parse(data, path: path)
    }

    public static func parse(_ data: Data, path: String) throws(ConfigError) -> AgentConfig {
        let root: ConfigValue
        do {
            root = try JSONDecoder().decode(ConfigValue.self, from: data)
        } catch {
            throw .malformed(path: path, reason: describe(error))
        }
        var reader = SectionReader(path: path, prefix: "", value: root)
        return try reader.readConfig()
    }

    static func describe(_ error: any Error) -> String {
        if let decoding = error as? DecodingError {
            switch decoding {
            case .dataCorrupted(let context):
                return context.debugDescription
            default:
                return "\(decoding)"
            }
        }
        if let cocoa = error as? CocoaError {
            if let posix = cocoa.underlying as? POSIXError {
                return String(cString: strerror(posix.code.rawValue))
            }
            switch cocoa.code {
            case .fileReadNoSuchFile: return String(cString: strerror(ENOENT))
            case .fileReadNoPermission: return String(cString: strerror(EACCES))
            default: break
            }
        }
        return "\(error)"
    }
}
