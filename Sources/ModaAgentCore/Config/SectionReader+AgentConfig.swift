extension SectionReader {
    /// The whole file: each section read with its defaults, ranges and cross-checks.
    mutating func readConfig() throws(ConfigError) -> AgentConfig {
        try requireObject()
        var config = AgentConfig()
        config.endpoint = try string("endpoint", default: config.endpoint)
        guard config.endpoint.hasPrefix("https://") || config.endpoint.hasPrefix("http://") else {
            throw .invalidValue(path: path, key: "endpoint", reason: "must be an http:// or https:// URL")
        }
        config.tracesEndpoint = try optionalString("tracesEndpoint")
        if let traces = config.tracesEndpoint, !(traces.hasPrefix("https://") || traces.hasPrefix("http://")) {
            throw .invalidValue(
                path: path,
                key: "tracesEndpoint",
                reason: "must be an http:// or https:// URL, or null for the origin of `endpoint` + /v1/traces"
            )
        }
        config.apiKeyFile = try string("apiKeyFile", default: config.apiKeyFile)
        config.apiKey = try optionalString("apiKey")
        config.environment = try optionalString("environment")

        var socket = try section("socket")
        config.socket.path = try socket.string("path", default: config.socket.path)
        if config.socket.path.utf8.count > 107 {
            throw .invalidValue(
                path: path,
                key: "socket.path",
                reason: "is longer than the 107 bytes a Unix socket path may have"
            )
        }
        config.socket.mode = try socket.string("mode", default: config.socket.mode)
        guard config.socket.mode.count <= 4, let bits = UInt32(config.socket.mode, radix: 8), bits <= 0o777 else {
            throw .invalidValue(
                path: path,
                key: "socket.mode",
                reason: "is \"\(config.socket.mode)\"; it must be octal permissions like \"0660\""
            )
        }
        config.socket.maxLineBytes = try socket.integer(
            "maxLineBytes",
            default: config.socket.maxLineBytes,
            range: 64...(256 << 20)
        )
        config.socket.maxConnections = try socket.integer(
            "maxConnections",
            default: config.socket.maxConnections,
            range: 1...1_000_000
        )
        try socket.rejectUnknownKeys()

        var queue = try section("queue")
        config.queue.path = try queue.string("path", default: config.queue.path)
        config.queue.maxBytes = try queue.integer(
            "maxBytes",
            default: config.queue.maxBytes,
            range: 1...Int(Int64.max / 2)
        )
        let whenFull = try queue.choice(
            "whenFull",
            default: config.queue.whenFull.rawValue,
            allowed: AgentConfig.WhenFull.allCases.map(\.rawValue)
        )
        config.queue.whenFull = AgentConfig.WhenFull(rawValue: whenFull) ?? .reject
        let durability = try queue.choice(
            "durability",
            default: config.queue.durability.rawValue,
            allowed: AgentConfig.Durability.allCases.map(\.rawValue)
        )
        config.queue.durability = AgentConfig.Durability(rawValue: durability) ?? .full
        try queue.rejectUnknownKeys()

        var batch = try section("batch")
        config.batch.maxEvents = try batch.integer(
            "maxEvents",
            default: config.batch.maxEvents,
            range: 1...AgentConfig.Batch.apiMaxEvents,
            hint: " (the Moda API takes at most 1000 events per request)"
        )
        config.batch.maxBytes = try batch.integer(
            "maxBytes",
            default: config.batch.maxBytes,
            range: 1024...AgentConfig.Batch.apiMaxBytes,
            hint: " (the Moda API takes at most 5,000,000 bytes per request)"
        )
        config.batch.maxEventBytes = try batch.integer(
            "maxEventBytes",
            default: config.batch.maxEventBytes,
            range: 16...AgentConfig.Batch.apiMaxBytes
        )
        config.batch.flushIntervalMs = try batch.number(
            "flushIntervalMs",
            default: config.batch.flushIntervalMs,
            minimum: 0
        )
        if config.batch.maxEventBytes + RequestBody.overheadBytes > config.batch.maxBytes {
            throw .invalidValue(
                path: path,
                key: "batch.maxEventBytes",
                reason: "is \(config.batch.maxEventBytes); an event that large would not fit in a batch of "
                    + "batch.maxBytes (\(config.batch.maxBytes)); lower it or raise batch.maxBytes"
            )
        }
        try batch.rejectUnknownKeys()

        var delivery = try section("delivery")
        config.delivery.maxInFlight = try delivery.integer(
            "maxInFlight",
            default: config.delivery.maxInFlight,
            range: 1...64
        )
        config.delivery.timeoutSeconds = try delivery.number(
            "timeoutSeconds",
            default: config.delivery.timeoutSeconds,
            minimum: 0,
            exclusive: true
        )
        config.delivery.retryInitialSeconds = try delivery.number(
            "retryInitialSeconds",
            default: config.delivery.retryInitialSeconds,
            minimum: 0,
            exclusive: true
        )
        config.delivery.retryMaxSeconds = try delivery.number(
            "retryMaxSeconds",
            default: config.delivery.retryMaxSeconds,
            minimum: 0,
            exclusive: true
        )
        if config.delivery.retryMaxSeconds < config.delivery.retryInitialSeconds {
            throw .invalidValue(
                path: path,
                key: "delivery.retryMaxSeconds",
                reason: "(\(config.delivery.retryMaxSeconds.formattedShort)) must not be smaller than "
                    + "delivery.retryInitialSeconds (\(config.delivery.retryInitialSeconds.formattedShort))"
            )
        }
        config.delivery.drainTimeoutSeconds = try delivery.number(
            "drainTimeoutSeconds",
            default: config.delivery.drainTimeoutSeconds,
            minimum: 0
        )
        config.delivery.proxy = try delivery.proxyServer("proxy")
        config.delivery.caFile = try delivery.optionalString("caFile")
        if config.delivery.caFile?.isEmpty == true {
            throw .invalidValue(path: path, key: "delivery.caFile", reason: "is empty; name a PEM file or set null")
        }
        try delivery.rejectUnknownKeys()

        var http = try section("http")
        if let listen = try http.optionalString("listen") {
            if listen.hasPrefix("unix:"), listen.count > "unix:".count {
                let socketPath = String(listen.dropFirst("unix:".count))
                guard socketPath.utf8.count <= 107 else {
                    throw .invalidValue(
                        path: path,
                        key: "http.listen",
                        reason: "is longer than the 107 bytes a Unix socket path may have"
                    )
                }
                config.http.listen = .unix(socketPath)
            } else if let address = ListenAddress(parsing: listen) {
                config.http.listen = .tcp(address)
            } else {
                throw .invalidValue(
                    path: path,
                    key: "http.listen",
                    reason: "is \"\(listen)\"; use \"HOST:PORT\" (an IPv4 address, [IPv6] or localhost), "
                        + "\"unix:/PATH\", or null for no listener"
                )
            }
        }
        config.http.token = try http.optionalString("token")
        if config.http.token?.isEmpty == true {
            throw .invalidValue(path: path, key: "http.token", reason: "is empty; set a token or null for none")
        }
        config.http.maxBodyBytes = try http.integer(
            "maxBodyBytes",
            default: config.http.maxBodyBytes,
            range: 1024...(1 << 30)
        )
        try http.rejectUnknownKeys()

        var monitoring = try section("monitoring")
        if let listen = try monitoring.optionalString("listen") {
            guard let address = ListenAddress(parsing: listen) else {
                throw .invalidValue(
                    path: path,
                    key: "monitoring.listen",
                    reason: "is \"\(listen)\"; use \"HOST:PORT\" (an IPv4 address, [IPv6] or localhost), "
                        + "e.g. \"127.0.0.1:9810\", or null for no listener"
                )
            }
            config.monitoring.listen = address
        }
        try monitoring.rejectUnknownKeys()
        var memory = try section("memory")
        config.memory.maxBufferedBytes = try memory.integer(
            "maxBufferedBytes",
            default: config.memory.maxBufferedBytes,
            range: (1 << 20)...(1 << 40),
            hint: " (bytes the daemon may hold for its clients before it stops reading from them)"
        )
        try memory.rejectUnknownKeys()
        var redaction = try section("redaction")
        config.redaction = try redaction.readRedaction()

        var trace = try section("trace")
        config.trace.retentionHours = try trace.number(
            "retentionHours",
            default: config.trace.retentionHours,
            minimum: 0,
            exclusive: true
        )
        config.trace.maxBytes = try trace.integer(
            "maxBytes",
            default: config.trace.maxBytes,
            range: (64 << 10)...(1 << 40),
            hint: " (bytes the delivery log of `modactl trace` may take)"
        )
        try trace.rejectUnknownKeys()

        var log = try section("log")
        config.log.level = try log.choice("level", default: config.log.level, allowed: AgentConfig.Log.levels)
        try log.rejectUnknownKeys()

        try rejectUnknownKeys()
        return config
    }
}
