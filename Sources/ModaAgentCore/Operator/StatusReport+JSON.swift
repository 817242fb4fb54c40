extension StatusReport {
    /// The `status --json` object of docs/operating.md.
    public var jsonObject: JSONValue {
        let lastError = Self.lastErrorJSON(delivery.lastError)
        let tenths = { (seconds: Double) in JSONValue((seconds * 10).rounded() / 10) }
        return [
            "daemon": [
                "running": JSONValue(daemon.running), "pid": JSONValue(daemon.pid),
                "version": JSONValue(daemon.version ?? (daemon.running ? nil : AgentVersion.current)),
                "uptimeSeconds": JSONValue(daemon.uptimeSeconds, tenths),
            ],
            "queue": [
                "events": JSONValue(queue.queuedEvents), "bytes": JSONValue(queue.queuedBytes),
                "droppedEvents": JSONValue(queue.droppedEvents),
                "oldestAgeSeconds": JSONValue(oldestAgeSeconds, tenths),
                "path": JSONValue(queuePath),
            ],
            "deadLetters": ["events": JSONValue(deadLetters)],
            "delivery": [
                "state": JSONValue(delivery.state.rawValue), "deliveredEvents": JSONValue(queue.deliveredEvents),
                "lastSuccessAt": JSONValue(delivery.lastSuccessAt) { .string(Timestamp.iso8601($0)) },
                "lastError": lastError, "attempts": JSONValue(delivery.attempts),
                "concurrency": daemon.running ? JSONValue(delivery.concurrency) : .null,
                "maxInFlight": JSONValue(maxInFlight),
                "nextAttemptAt": JSONValue(delivery.nextAttemptAt) { .string(Timestamp.iso8601($0)) },
            ],
            "traces": [
                "queued": JSONValue(traces.counters.queuedExports), "bytes": JSONValue(traces.counters.queuedBytes),
                "oldestAgeSeconds": JSONValue(traces.oldestAgeSeconds, tenths),
                "deliveredExports": JSONValue(traces.counters.deliveredExports),
                "deadLetters": JSONValue(traces.deadLetters),
                "state": JSONValue(traces.delivery.state.rawValue),
                "lastSuccessAt": JSONValue(traces.delivery.lastSuccessAt) { .string(Timestamp.iso8601($0)) },
                "lastError": Self.lastErrorJSON(traces.delivery.lastError),
                "nextAttemptAt": JSONValue(traces.delivery.nextAttemptAt) { .string(Timestamp.iso8601($0)) },
            ],
            "memory": [
                "bufferedBytes": JSONValue(memory.bufferedBytes),
                "maxBufferedBytes": JSONValue(memory.maxBufferedBytes), "readPauses": JSONValue(memory.readPauses),
            ],
            "redaction": [
                "rules": .array(redaction.rules.map { JSONValue($0) }),
                "redactedEvents": JSONValue(redaction.redactedEvents),
                "findings": .object(redaction.findings.mapValues { JSONValue($0) }),
            ],
        ]
    }

    private static func lastErrorJSON(_ error: DeliveryStatus.LastError?) -> JSONValue {
        JSONValue(error) { error in
            [
                "status": JSONValue(error.status), "message": JSONValue(error.message),
                "at": JSONValue(Timestamp.iso8601(error.at)),
            ]
        }
    }

    public func json() -> String { jsonObject.pretty() }
}
