/// The part of the config delivery uses; replaced as a whole on SIGHUP.
public struct DeliverySettings: Sendable {
    public var endpoint: String
    /// Where trace exports go (docs/protocol.md): `tracesEndpoint`, or `endpoint`'s origin + `/v1/traces`.
    public var tracesEndpoint: String
    public var apiKey: String
    public var batch: AgentConfig.Batch
    public var delivery: AgentConfig.Delivery

    public init(config: AgentConfig, apiKey: String) {
        endpoint = config.endpoint
        tracesEndpoint = config.effectiveTracesEndpoint
        self.apiKey = apiKey
        batch = config.batch
        delivery = config.delivery
    }

    var backoff: Backoff { Backoff(initial: delivery.retryInitialSeconds, maximum: delivery.retryMaxSeconds) }
}
