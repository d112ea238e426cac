import Foundation
import Synchronization
import Testing
import StreamKit
import StreamKitTesting

/// `cdc-features serve --tls-cert-file --tls-key-file`: the real binary serves its API over HTTPS
/// (checked with curl against the test's own CA-less self-signed certificate), refuses clear
/// text on that port, keeps its token rules, and rejects unusable certificate/key files at start
/// with a message that names the file and never shows the key.
@Suite(.serialized, .enabled(if: KafkaTestSupport.runnable, "no Kafka broker reachable (scripts/services up, KAFKA_BROKERS)"))
struct ServerTLSTests {
    /// A self-signed certificate for 127.0.0.1 and its key, in `directory`.
    static func makeCertificate(in directory: String, name: String) throws -> (certificate: String, key: String) {
        let cert = "\(directory)/\(name).crt", key = "\(directory)/\(name).key"
        let r = try ChildProcess.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                                             "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
        guard r.status == 0 else { throw StreamKitError(.io, "openssl req failed: \(r.stderr)") }
        return (cert, key)
    }

    /// `curl` of `url`; the HTTP status ("000" when no HTTP answer came) and curl's exit code.
    static func curl(_ url: String, caFile: String?, token: String? = nil) throws -> (code: String, exit: Int32) {
        var args = ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "30"]
        if let caFile { args += ["--cacert", caFile] }
        if let token { args += ["-H", "Authorization: Bearer \(token)"] }
        let r = try ChildProcess.run("/usr/bin/curl", args + [url])
        return (r.stdout, r.status)
    }

    @Test(.timeLimit(.minutes(10)))
    func theAPIIsServedOverHTTPSOnly() async throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        let dir = URL(fileURLWithPath: server.tokenFile).deletingLastPathComponent().path
        let (cert, key) = try Self.makeCertificate(in: dir, name: "server")
        try await server.start(arguments: ["--tls-cert-file", cert, "--tls-key-file", key])
        let base = "https://127.0.0.1:\(server.port)"

        #expect(try Self.curl("\(base)/healthz", caFile: cert).code == "200")
        #expect(try Self.curl("\(base)/api/v1/sources", caFile: cert, token: ServerProcess.readToken).code == "200")
        #expect(try Self.curl("\(base)/api/v1/sources", caFile: cert).code == "401")
        #expect(try Self.curl("\(base)/api/v1/sources", caFile: cert, token: "wrong-token-0123456789abcdef").code == "401")
        // A client that does not trust the certificate gets no answer (curl: 60, peer certificate).
        let untrusted = try Self.curl("\(base)/healthz", caFile: nil)
        #expect(untrusted.code == "000" && untrusted.exit == 60, "\(untrusted)")
        // Clear text on the TLS port gets no HTTP answer either.
        let clear = try Self.curl("http://127.0.0.1:\(server.port)/healthz", caFile: nil)
        #expect(clear.code == "000" && clear.exit != 0, "\(clear)")
        // The server still answers afterwards, and logged its https address but no token.
        #expect(try Self.curl("\(base)/readyz", caFile: cert).code == "200")
        #expect(server.log.contains("https://127.0.0.1:\(server.port)"))
        #expect(!server.log.contains(ServerProcess.readToken) && !server.log.contains(ServerProcess.adminToken))
        #expect(server.terminate() == 0)
    }

    @Test(.timeLimit(.minutes(5)))
    func unusableCertificateOrKeyFilesStopTheStartWithTheFileNamed() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        let dir = URL(fileURLWithPath: server.tokenFile).deletingLastPathComponent().path
        let (cert, key) = try Self.makeCertificate(in: dir, name: "one")
        let (_, otherKey) = try Self.makeCertificate(in: dir, name: "two")
        let keyText = try String(contentsOfFile: key, encoding: .utf8)
        let base = ["serve", "--port", "0", "--data-dir", server.dataDirectory, "--token-file", server.tokenFile]

        let alone = try ChildProcess.run(CLIBinary.path, base + ["--tls-cert-file", cert])
        #expect(alone.status != 0 && alone.stderr.contains("--tls-cert-file and --tls-key-file go together"), "\(alone.stderr)")
        let missing = try ChildProcess.run(CLIBinary.path, base + ["--tls-cert-file", dir + "/nope.crt", "--tls-key-file", key])
        #expect(missing.status != 0 && missing.stderr.contains("\(dir)/nope.crt"), "\(missing.stderr)")
        // A key given as the certificate: not a certificate, and the key's text is not echoed.
        let swapped = try ChildProcess.run(CLIBinary.path, base + ["--tls-cert-file", key, "--tls-key-file", key])
        #expect(swapped.status != 0 && swapped.stderr.contains("TLS certificate chain \(key)"), "\(swapped.stderr)")
        let mismatched = try ChildProcess.run(CLIBinary.path, base + ["--tls-cert-file", cert, "--tls-key-file", otherKey])
        #expect(mismatched.status != 0 && mismatched.stderr.contains("does not belong to the certificate"), "\(mismatched.stderr)")
        for output in [alone, missing, swapped, mismatched] {
            #expect(!output.stderr.contains("PRIVATE KEY") && !output.stdout.contains("PRIVATE KEY"))
            #expect(!output.stderr.contains(keyText.split(separator: "\n")[1]))
            #expect(!output.stdout.contains("listening"))
        }
    }
}
