import AsyncHTTPClient
import NIOConcurrencyHelpers

/// The HTTP clients delivery posts with: one per route in use (direct, or a proxy), all built for the
/// current `UpstreamNetwork`. async-http-client takes its proxy and TLS settings per client, so the
/// events and trace endpoints, which may get different proxy decisions, may use different clients.
///
/// When the network changes (SIGHUP with another proxy or CA file) the clients are rebuilt: new requests
/// get new clients, and each old one is shut down once its last request in flight has finished.
final class UpstreamClients: Sendable {
    /// A client lent to one request; give it back with `release`.
    struct Lease {
        let client: HTTPClient
        let route: ProxyRoute
        fileprivate let generation: Int
    }

    private struct Slot {
        var client: HTTPClient
        var inFlight = 0
    }

    private struct State {
        var network: UpstreamNetwork
        /// Bumped on every change of network; slots of older generations are retired.
        var generation = 0
        var live: [ProxyRoute: Slot] = [:]
        var retired: [Int: [ProxyRoute: Slot]] = [:]
        var isShutDown = false
    }

    private let state: NIOLockedValueBox<State>
    private let connectTimeoutSeconds: Double

    init(network: UpstreamNetwork, connectTimeoutSeconds: Double) {
        state = NIOLockedValueBox(State(network: network))
        self.connectTimeoutSeconds = connectTimeoutSeconds
    }

    /// The client for `endpoint`'s route, made on first use. Nil after `shutdown`.
    func lease(for endpoint: String) -> Lease? {
        state.withLockedValue { state in
            guard !state.isShutDown else { return nil }
            let route = state.network.proxies.route(for: endpoint)
            var slot = state.live[route] ?? Slot(client: makeClient(route: route, network: state.network))
            slot.inFlight += 1
            state.live[route] = slot
            return Lease(client: slot.client, route: route, generation: state.generation)
        }
    }

    func release(_ lease: Lease) {
        let finished: HTTPClient? = state.withLockedValue { state in
            if lease.generation == state.generation {
                state.live[lease.route]?.inFlight -= 1
                return nil
            }
            guard var slot = state.retired[lease.generation]?[lease.route] else { return nil }
            slot.inFlight -= 1
            guard slot.inFlight == 0 else {
                state.retired[lease.generation]?[lease.route] = slot
                return nil
            }
            state.retired[lease.generation]?[lease.route] = nil
            if state.retired[lease.generation]?.isEmpty == true { state.retired[lease.generation] = nil }
            return slot.client
        }
        finished?.shutdown { _ in }
    }

    /// Rebuilds the clients when `network` differs from the one in use; returns whether it did.
    func use(_ network: UpstreamNetwork) -> Bool {
        let idle: [HTTPClient]? = state.withLockedValue { state in
            guard network != state.network, !state.isShutDown else { return nil }
            let old = state.live
            state.network = network
            state.live = [:]
            let busy = old.filter { $0.value.inFlight > 0 }
            if !busy.isEmpty { state.retired[state.generation] = busy }
            state.generation += 1
            return old.values.filter { $0.inFlight == 0 }.map(\.client)
        }
        guard let idle else { return false }
        for client in idle { client.shutdown { _ in } }
        return true
    }

    func shutdown() async {
        let all: [HTTPClient] = state.withLockedValue { state in
            guard !state.isShutDown else { return [] }
            state.isShutDown = true
            let clients = state.live.values.map(\.client) + state.retired.values.flatMap { $0.values.map(\.client) }
            state.live = [:]
            state.retired = [:]
            return clients
        }
        for client in all { try? await client.shutdown().get() }
    }

    private func makeClient(route: ProxyRoute, network: UpstreamNetwork) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .milliseconds(Int64(connectTimeoutSeconds * 1000)))
        configuration.decompression = .disabled
        configuration.tlsConfiguration = network.tlsConfiguration
        if let proxy = route.proxy {
            // Basic credentials go to the proxy only (Proxy-Authorization on CONNECT), never to Moda.
            let authorization = proxy.username.map {
                HTTPClient.Authorization.basic(username: $0, password: proxy.password ?? "")
            }
            configuration.proxy = .server(host: proxy.host, port: proxy.port, authorization: authorization)
        }
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }
}
