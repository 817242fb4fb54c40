extension AgentConfig {
    /// The effective config in the file's own schema, every default filled in, for `--check-config`.
    /// The API key is never part of it: a literal `apiKey` shows as "<redacted>".
    public func effectiveJSON() -> String {
        var root: [String: JSONValue] = [
            "endpoint": JSONValue(endpoint),
            "apiKeyFile": JSONValue(apiKeyFile),
            "environment": JSONValue(environment),
            "socket": [
                "path": JSONValue(socket.path), "mode": JSONValue(socket.mode),
                "maxLineBytes": JSONValue(socket.maxLineBytes), "maxConnections": JSONValue(socket.maxConnections),
            ],
            "queue": [
                "path": JSONValue(queue.path), "maxBytes": JSONValue(queue.maxBytes),
                "whenFull": JSONValue(queue.whenFull.rawValue), "durability": JSONValue(queue.durability.rawValue),
            ],
            "batch": [
                "maxEvents": JSONValue(batch.maxEvents), "maxBytes": JSONValue(batch.maxBytes),
                "maxEventBytes": JSONValue(batch.maxEventBytes), "flushIntervalMs": JSONValue(batch.flushIntervalMs),
            ],
            "delivery": [
                "maxInFlight": JSONValue(delivery.maxInFlight), "timeoutSeconds": JSONValue(delivery.timeoutSeconds),
                "retryInitialSeconds": JSONValue(delivery.retryInitialSeconds),
                "retryMaxSeconds": JSONValue(delivery.retryMaxSeconds),
                "drainTimeoutSeconds": JSONValue(delivery.drainTimeoutSeconds),
                "proxy": JSONValue(delivery.proxy) { .string("\($0)") },
                "caFile": JSONValue(delivery.caFile),
            ],
            "http": [
                "listen": JSONValue(http.listen) { .string("\($0)") },
                "token": JSONValue(http.token) { _ in "<redacted>" },
                "maxBodyBytes": JSONValue(http.maxBodyBytes),
            ],
            "tracesEndpoint": JSONValue(tracesEndpoint),
            "monitoring": ["listen": JSONValue(monitoring.listen) { .string("\($0)") }],
            "memory": ["maxBufferedBytes": JSONValue(memory.maxBufferedBytes)],
            "trace": ["retentionHours": JSONValue(trace.retentionHours), "maxBytes": JSONValue(trace.maxBytes)],
            "log": ["level": JSONValue(log.level)],
            "redaction": [
                "detectors": .array(redaction.detectors.map { JSONValue($0.rawValue) }),
                "patterns": .array(
                    redaction.patterns.map { ["name": JSONValue($0.name), "regex": JSONValue($0.regex)] }
                ),
                "action": JSONValue(redaction.action.rawValue),
                "hashKeyFile": JSONValue(redaction.hashKeyFile),
            ],
        ]
        if apiKey != nil { root["apiKey"] = "<redacted>" }
        return JSONValue.object(root).pretty()
    }
}
