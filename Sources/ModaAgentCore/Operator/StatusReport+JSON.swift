import Foundation

extension StatusReport {
    /// The `status --json` object of SPEC 7.
    public var jsonObject: [String: Any] {
        let null = NSNull()
        let lastError: Any =
            delivery.lastError.map { error -> [String: Any] in
                [
                    "status": error.status.map { $0 as Any } ?? null, "message": error.message,
                    "at": Timestamp.iso8601(error.at),
                ]
            } ?? null
        return [
            "daemon": [
                "running": daemon.running, "pid": daemon.pid.map { Int($0) as Any } ?? null,
                "version": daemon.version ?? (daemon.running ? null : AgentVersion.current) as Any,
                "uptimeSeconds": daemon.uptimeSeconds.map { ($0 * 10).rounded() / 10 as Any } ?? null,
            ] as [String: Any],
            "queue": [
                "events": queue.queuedEvents, "bytes": queue.queuedBytes, "droppedEvents": queue.droppedEvents,
                "oldestAgeSeconds": oldestAgeSeconds.map { ($0 * 10).rounded() / 10 as Any } ?? null,
                "path": queuePath,
            ] as [String: Any],
            "deadLetters": ["events": deadLetters],
            "delivery": [
                "state": delivery.state.rawValue, "deliveredEvents": queue.deliveredEvents,
                "lastSuccessAt": delivery.lastSuccessAt.map { Timestamp.iso8601($0) as Any } ?? null,
                "lastError": lastError, "attempts": delivery.attempts,
                "concurrency": daemon.running ? delivery.concurrency as Any : null, "maxInFlight": maxInFlight,
                "nextAttemptAt": delivery.nextAttemptAt.map { Timestamp.iso8601($0) as Any } ?? null,
            ] as [String: Any],
            "traces": [
                "queued": traces.counters.queuedExports, "bytes": traces.counters.queuedBytes,
                "oldestAgeSeconds": traces.oldestAgeSeconds.map { ($0 * 10).rounded() / 10 as Any } ?? null,
                "deliveredExports": traces.counters.deliveredExports, "deadLetters": traces.deadLetters,
                "state": traces.delivery.state.rawValue,
                "lastSuccessAt": traces.delivery.lastSuccessAt.map { Timestamp.iso8601($0) as Any } ?? null,
                "lastError": traces.delivery.lastError.map { error -> [String: Any] in
                    [
                        "status": error.status.map { $0 as Any } ?? null, "message": error.message,
                        "at": Timestamp.iso8601(error.at),
                    ]
                } as Any? ?? null,
                "nextAttemptAt": traces.delivery.nextAttemptAt.map { Timestamp.iso8601($0) as Any } ?? null,
            ] as [String: Any],
            "memory": [
                "bufferedBytes": memory.bufferedBytes, "maxBufferedBytes": memory.maxBufferedBytes,
                "readPauses": memory.readPauses,
            ],
        ]
    }

    public func json() -> String {
        let data =
            (try? JSONSerialization.data(withJSONObject: jsonObject, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\\/", with: "/")
    }
}
