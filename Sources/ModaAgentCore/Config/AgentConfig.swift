/// The daemon's settings, one struct per section of the config file (docs/configuration.md).
/// Every field has the documented default, so `AgentConfig()` is a valid config.
public struct AgentConfig: Sendable, Equatable {
    public var endpoint: String = "https://moda-ingest.modas.workers.dev/v1/ingest"
    public var apiKeyFile: String = "/etc/moda-agent/api-key"
    /// A literal key; discouraged, and never printed.
    public var apiKey: String? = nil
    public var environment: String? = nil
    public var socket = Socket()
    public var queue = Queue()
    public var batch = Batch()
    public var delivery = Delivery()
    public var http = HTTP()
    /// Where trace exports go (docs/protocol.md); nil: `effectiveTracesEndpoint`.
    public var tracesEndpoint: String? = nil
    public var monitoring = Monitoring()
    public var memory = Memory()
    public var redaction = Redaction()
    public var trace = Trace()
    public var log = Log()

    public init() {}

    /// `tracesEndpoint`, or the scheme, host and port of `endpoint` with the path `/v1/traces`.
    public var effectiveTracesEndpoint: String {
        if let tracesEndpoint { return tracesEndpoint }
        guard let schemeEnd = endpoint.firstRange(of: "://") else { return endpoint }
        let rest = endpoint[schemeEnd.upperBound...]
        let hostEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        return String(endpoint[..<hostEnd]) + "/v1/traces"
    }

    public struct Socket: Sendable, Equatable {
        public var path: String = "/run/moda-agent/ingest.sock"
        /// Permission bits as written in the file ("0660"), kept as text so `--check-config` echoes it.
        public var mode: String = "0660"
        public var maxLineBytes: Int = 1_048_576
        public var maxConnections: Int = 1024

        public var modeBits: UInt32 { UInt32(mode, radix: 8) ?? 0o660 }
    }

    public enum WhenFull: String, Sendable, CaseIterable {
        case reject
        case dropOldest
    }

    public enum Durability: String, Sendable, CaseIterable {
        /// fsync before acknowledging.
        case full
        /// Acknowledge once in the WAL: survives a process crash, not necessarily a power loss.
        case normal
    }

    public struct Queue: Sendable, Equatable {
        public var path: String = "/var/lib/moda-agent/queue.db"
        public var maxBytes: Int = 1_073_741_824
        public var whenFull: WhenFull = .reject
        public var durability: Durability = .full
    }

    public struct Batch: Sendable, Equatable {
        /// The API accepts at most 1,000 events per request.
        public static let apiMaxEvents = 1000
        /// The API accepts at most 5 MB per request.
        public static let apiMaxBytes = 5_000_000

        public var maxEvents: Int = 1000
        public var maxBytes: Int = 5_000_000
        public var maxEventBytes: Int = 102_400
        public var flushIntervalMs: Double = 1000
    }

    public struct Delivery: Sendable, Equatable {
        public var maxInFlight: Int = 8
        public var timeoutSeconds: Double = 30
        public var retryInitialSeconds: Double = 1
        public var retryMaxSeconds: Double = 30
        public var drainTimeoutSeconds: Double = 10
        /// Every upstream request through this HTTP proxy; nil: the environment's (docs/networks.md).
        public var proxy: ProxyServer? = nil
        /// PEM certificates trusted beside the system's CAs, for networks that inspect TLS.
        public var caFile: String? = nil
    }

    public struct Memory: Sendable, Equatable {
        /// What the daemon holds for clients at most (partial lines, lines not yet committed,
        /// unwritten replies, request bodies) before it stops reading from them.
        public var maxBufferedBytes: Int = 67_108_864
    }

    public struct HTTP: Sendable, Equatable {
        public enum Listen: Sendable, Equatable, CustomStringConvertible {
            case tcp(ListenAddress)
            case unix(String)

            public var description: String {
                switch self {
                case .tcp(let address): return "\(address)"
                case .unix(let path): return "unix:\(path)"
                }
            }
        }

        /// The HTTP receivers (docs/protocol.md); nil: none.
        public var listen: Listen? = nil
        /// When set, requests need `Authorization: Bearer <token>`; never printed.
        public var token: String? = nil
        /// A request body's limit, after decompression.
        public var maxBodyBytes: Int = 10_000_000
    }

    public struct Monitoring: Sendable, Equatable {
        /// `/metrics` and `/health` (docs/monitoring.md); nil: no listener.
        public var listen: ListenAddress? = nil
    }

    /// The delivery log `modactl trace` reads (docs/tracing.md): kept this long and at most this big.
    public struct Trace: Sendable, Equatable {
        public var retentionHours: Double = 168
        public var maxBytes: Int = 16_777_216
    }

    public struct Log: Sendable, Equatable {
        public static let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        public var level: String = "info"
    }
}
