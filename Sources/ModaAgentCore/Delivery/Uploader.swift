import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOPosix

/// POSTs one request body to the Moda endpoint and reports what came back. It only reports: a
/// non-2xx status is data for `ResponseClassifier`, and it never retries on its own.
public final class Uploader: Sendable {
    private let clients: UpstreamClients
    private static let maxResponseBytes = 1 << 20

    /// `connectTimeoutSeconds` bounds how long the client keeps retrying a refused connection
    /// before it reports it: short, because delivery's own backoff takes over from there.
    /// `network`: the proxy and extra CAs (docs/networks.md).
    public init(connectTimeoutSeconds: Double = 3, network: UpstreamNetwork = .direct) {
        clients = UpstreamClients(network: network, connectTimeoutSeconds: connectTimeoutSeconds)
    }

    /// SIGHUP: a changed proxy or CA file rebuilds the HTTP clients; requests in flight finish on the
    /// old ones. Returns whether anything changed.
    @discardableResult
    public func use(_ network: UpstreamNetwork) -> Bool {
        clients.use(network)
    }

    /// The whole exchange, from connecting to the response's last byte, is bounded by
    /// `timeoutSeconds` (docs/operating.md): the client's own deadline stops at the response head, so an
    /// upstream that sends headers and then stalls or trickles the body would hold a batch forever.
    public func post(
        body: ByteBuffer,
        contentType: String = "application/json",
        endpoint: String,
        apiKey: String,
        timeoutSeconds: Double
    ) async -> UploadResult {
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        request.headers.add(name: "Content-Type", value: contentType)
        request.headers.add(name: "User-Agent", value: "moda-agent/\(AgentVersion.current)")
        request.body = .bytes(body)
        let timeout = Duration.milliseconds(Int64((timeoutSeconds * 1000).rounded(.up)))
        guard let lease = clients.lease(for: endpoint) else { return .transportFailure("the agent is shutting down") }
        defer { clients.release(lease) }
        let client = lease.client
        let route = lease.route
        let prepared = request
        return await withTaskGroup(of: UploadResult?.self) { group in
            group.addTask {
                do {
                    let response = try await client.execute(
                        prepared,
                        timeout: .milliseconds(Int64((timeoutSeconds * 1000).rounded(.up)))
                    )
                    let bytes = try await response.body.collect(upTo: Self.maxResponseBytes)
                    return .response(
                        UploadResponse(
                            status: Int(response.status.code),
                            retryAfter: response.headers.first(name: "Retry-After"),
                            location: response.headers.first(name: "Location"),
                            body: Array(buffer: bytes)
                        )
                    )
                } catch {
                    if Task.isCancelled { return nil }
                    return TransportFailureText.result(
                        for: error,
                        route: route,
                        endpoint: endpoint,
                        timeoutSeconds: timeoutSeconds
                    )
                }
            }
            group.addTask {
                // Cancelled when the request wins; only a deadline that really passed reports.
                guard (try? await Task.sleep(for: timeout)) != nil else { return nil }
                return .transportFailure(Self.timeoutMessage(timeoutSeconds))
            }
            // Whichever finishes first decides; cancelling the other aborts the request (AsyncHTTPClient
            // closes its connection) or the timer.
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .transportFailure(Self.timeoutMessage(timeoutSeconds))
        }
    }

    /// "timeout after 2 s": what `modactl status` shows as the last error.
    static func timeoutMessage(_ seconds: Double) -> String {
        TransportFailure.timedOut(seconds: seconds).message
    }

    public func shutdown() async {
        await clients.shutdown()
    }

    /// Transport errors as an operator reads them; the API key is never part of them.
    static func describe(_ error: any Error, timeoutSeconds: Double) -> String {
        failure(error, timeoutSeconds: timeoutSeconds).message
    }

    static func failure(_ error: any Error, timeoutSeconds: Double) -> TransportFailure {
        if let clientError = error as? HTTPClientError {
            switch clientError {
            case .deadlineExceeded, .readTimeout, .connectTimeout:
                return .timedOut(seconds: timeoutSeconds)
            case .remoteConnectionClosed:
                return .closedEarly
            default:
                return .other(reason: "HTTP client error: \(clientError)")
            }
        }
        // NIO names the host it could not resolve; its own text ("DNS error: SocketAddressError…")
        // reads as a fault of Moda's to someone without network.
        if let connection = error as? NIOConnectionError {
            if let unknown = (connection.dnsAError ?? connection.dnsAAAAError) as? SocketAddressError.UnknownHost {
                return .unresolvedHost(host: unknown.host, reason: unknown.errorDescription)
            }
            if connection.dnsAError != nil || connection.dnsAAAAError != nil {
                let reason = "\((connection.dnsAError ?? connection.dnsAAAAError).map { "\($0)" } ?? "")"
                return .unresolvedHost(host: connection.host, reason: reason)
            }
        }
        let text = "\(error)"
        // NIO's connection errors end in "(errno: N)"; the system's words for N read better.
        if let marker = text.firstRange(of: "(errno: "),
            let code = Int32(String(text[marker.upperBound...].prefix(while: \.isNumber)))
        {
            return .cannotConnect(reason: String(cString: strerror(code)))
        }
        return .other(reason: text)
    }
}
