/// The metrics of docs/monitoring.md: names, help text and histogram buckets, in one place. Instruments are
/// created where the work happens (ingest, queue, delivery) with swift-metrics; these names tie
/// them to the contract.
enum MetricCatalog {
    static let help: [String: String] = [
        "moda_agent_received_lines_total": "Non-blank lines (socket) and HTTP requests read.",
        "moda_agent_accepted_events_total": "Events acknowledged (durable in the queue).",
        "moda_agent_rejected_lines_total": "Lines or requests refused with an error, by reason.",
        "moda_agent_connections": "Open ingest connections.",
        "moda_agent_commit_duration_seconds": "Group commit, from begin to fsync done.",
        "moda_agent_queue_events": "Items queued.",
        "moda_agent_queue_bytes": "Bytes queued.",
        "moda_agent_queue_oldest_age_seconds": "Age of the oldest queued item; 0 when the queue is empty.",
        "moda_agent_dropped_events_total": "Events dropped under queue.whenFull dropOldest (kept in the queue database).",
        "moda_agent_delivered_events_total": "Events delivered (kept in the queue database).",
        "moda_agent_dead_letters": "Items in dead letters.",
        "moda_agent_dead_lettered_total": "Items moved to dead letters since the daemon started.",
        "moda_agent_delivery_requests_total": "Delivery requests made, by HTTP status or timeout/connection/tls.",
        "moda_agent_delivery_request_duration_seconds": "Delivery request latency, connect to last byte.",
        "moda_agent_delivery_in_flight": "Delivery requests in flight.",
        "moda_agent_memory_buffered_bytes": "Bytes held for clients: partial lines, uncommitted lines, unwritten replies.",
        "moda_agent_memory_max_buffered_bytes": "memory.maxBufferedBytes, the budget for what is held for clients.",
        "moda_agent_memory_read_pauses_total": "Times reading from a connection paused for the memory budget.",
        "moda_agent_delivery_retries_total": "Delivery attempts that failed and were scheduled again (retrying or paused).",
        "moda_agent_delivery_concurrency": "Requests the adaptive limit allows in flight now (1 up to delivery.maxInFlight).",
        "moda_agent_delivery_state": "1 for the current delivery state, 0 for the others.",
        "moda_agent_delivery_last_success_timestamp_seconds": "Unix time of the last 2xx delivery.",
        "moda_agent_redactions_total": "Findings redacted before storage, by detector or pattern name.",
        "moda_agent_redacted_events_total": "Events and trace exports stored with at least one redaction.",
        "moda_agent_build_info": "The running version; always 1.",
        "process_resident_memory_bytes": "Resident memory size in bytes.",
        "process_virtual_memory_bytes": "Virtual memory size in bytes.",
        "process_cpu_seconds_total": "Total user and system CPU time spent in seconds.",
        "process_open_fds": "Number of open file descriptors.",
        "process_max_fds": "Maximum number of open file descriptors.",
        "process_start_time_seconds": "Start time of the process since the Unix epoch in seconds.",
    ]

    static func help(_ label: String) -> String { help[label] ?? label }

    static let valueBuckets: [Double] = [1, 10, 100, 1_000, 10_000]

    /// A group commit takes a fraction of a millisecond to tens of milliseconds (an fsync); a
    /// delivery request tens of milliseconds to the timeout.
    static func durationBuckets(_ label: String) -> [Duration] {
        if label == "moda_agent_commit_duration_seconds" {
            return [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1].map {
                Duration.microseconds(Int64($0 * 1_000_000))
            }
        }
        return [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30].map {
            Duration.milliseconds(Int64($0 * 1000))
        }
    }
}
