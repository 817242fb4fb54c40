import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// POSTs one request body to the Moda endpoint and reports what came back. It only reports: a
/// non-2xx status is data for `ResponseClassifier`, and it never retries on its own.
public final class Uploader: Sendable {
    private let client: HTTPClient
    private static let maxResponseBytes = 1 << 20

    /// `connectTimeoutSeconds` bounds how long the client keeps retrying a refused connection
    /// before it reports it: short, because the flusher's own backoff takes over from there.
    public init(connectTimeoutSeconds: Double = 3) {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .milliseconds(Int64(connectTimeoutSeconds * 1000)))
        configuration.decompression = .disabled
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func post(body: [UInt8], endpoint: String, apiKey: String, timeoutSeconds: Double) async -> UploadResult {
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "moda-agent/\(AgentVersion.current)")
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: .milliseconds(Int64(timeoutSeconds * 1000)))
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
            return .transportFailure(Self.describe(error))
        }
    }

    public func shutdown() async {
        try? await client.shutdown().get()
    }

    /// Transport errors as an operator reads them; the API key is never part of them.
    private static func describe(_ error: any Error) -> String {
        if let clientError = error as? HTTPClientError {
            switch clientError {
            case .deadlineExceeded, .readTimeout, .connectTimeout:
                return "timed out (delivery.timeoutSeconds)"
            case .remoteConnectionClosed:
                return "the server closed the connection before answering"
            default:
                return "HTTP client error: \(clientError)"
            }
        }
        let text = "\(error)"
        // NIO's connection errors end in "(errno: N)"; the system's words for N read better.
        if let range = text.range(of: #"\(errno: (\d+)\)"#, options: .regularExpression),
            let code = Int32(text[range].filter(\.isNumber))
        {
            return "cannot connect to the endpoint: \(String(cString: strerror(code)))"
        }
        return "connection failed: \(text)"
    }
}
