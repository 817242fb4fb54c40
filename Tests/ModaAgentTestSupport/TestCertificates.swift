import Foundation
import NIOSSL

/// A throwaway CA and a server certificate it signed for 127.0.0.1 and localhost, made with `openssl`
/// in a temporary folder: the TLS upstream a company's inspecting proxy would present.
public struct TestCertificates: Sendable {
    /// The CA certificate (PEM): what `delivery.caFile` names.
    public let caPath: String
    public let serverCertificatePath: String
    public let serverKeyPath: String

    /// Makes a CA named `name` and a server certificate signed by it, in `directory`.
    public static func make(in directory: TemporaryDirectory, name: String = "ca") async throws -> TestCertificates {
        let ca = directory.file("\(name).pem")
        let caKey = directory.file("\(name).key")
        let serverCertificate = directory.file("\(name)-server.pem")
        let serverKey = directory.file("\(name)-server.key")
        let request = directory.file("\(name)-server.csr")
        let extensions = directory.file("\(name)-server.ext")
        try Data(
            """
            subjectAltName=IP:127.0.0.1,DNS:localhost
            basicConstraints=CA:FALSE
            keyUsage=digitalSignature,keyEncipherment
            extendedKeyUsage=serverAuth

            """.utf8
        ).write(to: URL(fileURLWithPath: extensions))
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        let steps: [[String]] = [
            ["req", "-x509"] + key + [
                "-keyout", caKey, "-out", ca, "-days", "2", "-subj", "/CN=moda-agent test CA \(name)",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ],
            ["req"] + key + ["-keyout", serverKey, "-out", request, "-subj", "/CN=127.0.0.1"],
            [
                "x509", "-req", "-in", request, "-CA", ca, "-CAkey", caKey, "-CAcreateserial",
                "-out", serverCertificate, "-days", "2", "-extfile", extensions,
            ],
        ]
        for arguments in steps {
            let result = try await CommandRunner.run("/usr/bin/openssl", arguments, timeout: .seconds(30))
            guard result.status == 0 else {
                throw TestSetupError("openssl \(arguments.prefix(2).joined(separator: " ")) failed: \(result.stderr)")
            }
        }
        return TestCertificates(caPath: ca, serverCertificatePath: serverCertificate, serverKeyPath: serverKey)
    }

    /// The server side of TLS for `MockModaServer.start(tls:)`.
    public func serverConfiguration() throws -> TLSConfiguration {
        TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(serverCertificatePath).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: serverKeyPath, format: .pem))
        )
    }
}

public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
