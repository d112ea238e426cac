import NIOSSL
import StreamKit

/// HTTPS for the control API: the server's certificate chain and private key, PEM files
/// (`cdc-features serve --tls-cert-file F --tls-key-file F`). Bearer tokens then never cross the
/// network in clear text. TLS 1.2 and 1.3 (swift-nio-ssl's BoringSSL); no client certificates.
///
/// ```swift
/// c.tls = ServerTLS(certificateChainFile: "/etc/streamkit/server.crt", privateKeyFile: "/etc/streamkit/server.key")
/// ```
public struct ServerTLS: Sendable, Equatable {
    /// PEM file with the server's certificate first, then any intermediates.
    public var certificateChainFile: String
    /// PEM file with the private key of the first certificate (not encrypted).
    public var privateKeyFile: String

    public init(certificateChainFile: String, privateKeyFile: String) {
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
    }

    /// Throws the error ``ControlServer`` would throw for these files: one that cannot be read or
    /// parsed, or a key that does not belong to the certificate, named (never its contents).
    public func validate() throws { _ = try configuration() }

    /// The server's TLS configuration; a file that cannot be read or parsed, or a key that does
    /// not belong to the certificate, is a configuration error naming the file (never its contents).
    func configuration() throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(certificateChainFile) } catch {
            throw StreamKitError(.configuration, "TLS certificate chain \(certificateChainFile): not a readable PEM certificate file")
        }
        guard !chain.isEmpty else {
            throw StreamKitError(.configuration, "TLS certificate chain \(certificateChainFile): no certificate in the file")
        }
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(file: privateKeyFile, format: .pem) } catch {
            throw StreamKitError(.configuration, "TLS private key \(privateKeyFile): not a readable, unencrypted PEM private key")
        }
        var c = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        c.minimumTLSVersion = .tlsv12
        // The context is what checks that the key belongs to the certificate.
        do { _ = try NIOSSLContext(configuration: c) } catch {
            throw StreamKitError(.configuration, "TLS private key \(privateKeyFile) does not belong to the certificate in \(certificateChainFile)")
        }
        return c
    }
}
