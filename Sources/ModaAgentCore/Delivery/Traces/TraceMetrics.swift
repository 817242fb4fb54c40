import CoreMetrics

/// Trace-only instruments; the per-queue delivery metrics are `DeliveryMetrics(queue: "traces")`.
enum TraceMetrics {
    /// Spans an upstream rejected inside a 2xx (`partial_success`): delivered, not retried.
    static func rejectedSpans(_ count: Int64) {
        Counter(label: "moda_agent_trace_rejected_spans_total").increment(by: count)
    }
}
