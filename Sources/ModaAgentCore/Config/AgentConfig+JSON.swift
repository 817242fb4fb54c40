import Foundation

extension AgentConfig {
    /// The effective config in the file's own schema, every default filled in, for `--check-config`.
    /// The API key is never part of it: a literal `apiKey` shows as "<redacted>".
    public func effectiveJSON() -> String {
        var root: [String: Any] = [
            "endpoint": endpoint,
            "apiKeyFile": apiKeyFile,
            "environment": environment.map { $0 as Any } ?? NSNull(),
            "socket": [
                "path": socket.path, "mode": socket.mode, "maxLineBytes": socket.maxLineBytes,
                "maxConnections": socket.maxConnections,
            ] as [String: Any],
            "queue": [
                "path": queue.path, "maxBytes": queue.maxBytes, "whenFull": queue.whenFull.rawValue,
                "durability": queue.durability.rawValue,
            ] as [String: Any],
            "batch": [
                "maxEvents": batch.maxEvents, "maxBytes": batch.maxBytes, "maxEventBytes": batch.maxEventBytes,
                "flushIntervalMs": batch.flushIntervalMs,
            ] as [String: Any],
            "delivery": [
                "maxInFlight": delivery.maxInFlight, "timeoutSeconds": delivery.timeoutSeconds,
                "retryInitialSeconds": delivery.retryInitialSeconds, "retryMaxSeconds": delivery.retryMaxSeconds,
                "drainTimeoutSeconds": delivery.drainTimeoutSeconds,
            ] as [String: Any],
            "http": [
                "listen": http.listen.map { "\($0)" as Any } ?? NSNull(),
                "token": http.token.map { _ in "<redacted>" as Any } ?? NSNull(),
                "maxBodyBytes": http.maxBodyBytes,
            ] as [String: Any],
            "tracesEndpoint": tracesEndpoint.map { $0 as Any } ?? NSNull(),
            "monitoring": ["listen": monitoring.listen.map { "\($0)" as Any } ?? NSNull()] as [String: Any],
            "memory": ["maxBufferedBytes": memory.maxBufferedBytes],
            "log": ["level": log.level],
        ]
        if apiKey != nil { root["apiKey"] = "<redacted>" }
        let data =
            (try? JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
