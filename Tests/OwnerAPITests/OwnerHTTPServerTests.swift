import CloudSimulator
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Glibc
import JWTKit
import OwnerServices
import Synchronization
import Testing
@testable import OwnerAPI

/// A thread playing the event loop for a real server: owns the `LoopContext` (owner services
/// over an empty in-memory VOS repository) and drains the mailbox until stopped, then
/// stops the server from that same thread, as `spaak-cloud serve` does.
private final class ServerLoop: Sendable {
    let server: OwnerHTTPServer
    let tokens = TokenAuthority(key: ES256PrivateKey())
    private let stopped = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    let port: Int

    init(mailDir: String) throws {
        let mailbox = try OwnerMailbox(capacity: 8)
        server = try OwnerHTTPServer(address: HTTPListenAddress(host: "127.0.0.1", port: 0),
                                     context: OwnerHTTPContext(tokens: tokens, mailbox: mailbox), log: { _ in })
        // start() blocks its caller until the server's task runs on Swift's cooperative pool;
        // callers are on a thread of their own (`offPool`): a pool thread blocked here would
        // halve the pool of a 2-core machine for the whole test run. The pool's queue ahead of
        // the server's task holds the other suites' synchronous tests: far longer than serve's 10 s.
        port = try server.start(timeout: serverStartLimit)
        let thread = Thread { [self] in
            // The repository and the services live on this thread only.
            guard let outbox = try? MaildirOutbox(root: mailDir) else {
                done.signal()
                return
            }
            let context = LoopContext(services: OwnerServices(repository: InMemoryCloudRepository(), outbox: outbox)) { _ in
                (false, "no vehicle bus in this test")
            }
            var watch = [pollfd(fd: mailbox.notifyFD, events: Int16(POLLIN), revents: 0)]
            while !stopped.load(ordering: .relaxed) {
                if poll(&watch, 1, 10) > 0 { mailbox.drain(context) }
            }
            server.stop { mailbox.drain(context) }
            mailbox.close()
            done.signal()
        }
        thread.start()
    }

    /// Stops the loop and the server; returns once both are down.
    func stop() async {
        stopped.store(true, ordering: .relaxed)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread { [done] in
                done.wait()
                continuation.resume()
            }.start()
        }
    }
}

/// How long a test waits for a server's task to get a pool thread and listen.
private let serverStartLimit = Duration.seconds(300)

/// `body`'s result, computed on a thread of its own, so that a blocking wait in it never holds
/// one of the cooperative pool's threads (as many as the machine has cores).
private func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

@Suite("OwnerHTTPServer: a real server on an ephemeral loopback port", .serialized)
struct OwnerHTTPServerTests {
    private func request(_ port: Int, _ method: String, _ path: String, token: String? = nil,
                         body: String? = nil, contentType: String? = nil) async throws -> (Int, [String: String], String) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        request.httpBody = body.map { Data($0.utf8) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields { headers[String(describing: name).lowercased()] = String(describing: value) }
        return (http.statusCode, headers, String(decoding: data, as: UTF8.self))
    }

    private func withServer(_ body: (ServerLoop) async throws -> Void) async throws {
        let mail = FileManager.default.temporaryDirectory.appendingPathComponent("spaak-http-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: mail) }
        let loop = try await offPool { try ServerLoop(mailDir: mail) }
        do {
            try await body(loop)
        } catch {
            await loop.stop()
            throw error
        }
        await loop.stop()
    }

    @Test("health, the OpenAPI document, 404 and 405 problems, 401 with the challenge")
    func serviceRoutes() async throws {
        try await withServer { loop in
            let (status, headers, text) = try await request(loop.port, "GET", "/health")
            #expect(status == 200 && text == #"{"status":"ok"}"#)
            #expect(headers["content-type"] == "application/json")
            let document = try await request(loop.port, "GET", "/openapi.yaml")
            #expect(document.0 == 200 && document.1["content-type"] == "application/yaml")
            #expect(document.2 == (try OwnerHTTPServer.bundledOpenAPIDocument()))
            let missing = try await request(loop.port, "GET", "/v1/nothing")
            #expect(missing.0 == 404 && missing.1["content-type"] == "application/problem+json")
            #expect(missing.2.contains(#""reason":"not-found""#) && missing.2.contains(#""instance":"/v1/nothing""#))
            let method = try await request(loop.port, "DELETE", "/v1/fleet")
            #expect(method.0 == 405 && method.1["allow"] == "GET, HEAD")
            #expect(method.2.contains(#""reason":"method-not-allowed""#))
            let anonymous = try await request(loop.port, "GET", "/v1/vehicles")
            #expect(anonymous.0 == 401 && anonymous.1["www-authenticate"] == #"Bearer realm="spaak-vos""#)
            let forged = try await request(loop.port, "GET", "/v1/vehicles", token: "a.b.c")
            #expect(forged.0 == 401 && forged.1["www-authenticate"] == #"Bearer realm="spaak-vos", error="invalid_token""#)
        }
    }

    @Test("/v1 routes reach the owner services on the loop thread; bodies are checked first")
    func ownerRoutes() async throws {
        try await withServer { loop in
            let owner = try await loop.tokens.sign(user: "alice", role: "owner")
            let list = try await request(loop.port, "GET", "/v1/vehicles", token: owner)
            #expect(list.0 == 200 && list.2 == #"{"vehicles":[]}"#)
            let fleet = try await request(loop.port, "GET", "/v1/fleet", token: owner)
            #expect(fleet.0 == 403 && fleet.2.contains(#""reason":"role-not-allowed""#))
            let vin = "WDB1234567890ABCD"
            let password = try await request(loop.port, "POST", "/v1/vehicles/\(vin)/pairing-password", token: owner)
            #expect(password.0 == 403 && password.2.contains(#""reason":"not-owner""#))
            let path = "/v1/vehicles/\(vin)/pairing-password/confirmation"
            let form = try await request(loop.port, "POST", path, token: owner, body: "deliveryId=1", contentType: "application/x-www-form-urlencoded")
            #expect(form.0 == 415)
            let unknown = try await request(loop.port, "POST", path, token: owner, body: #"{"deliveryId":"0123456789abcdef0123456789abcdef","x":1}"#,
                                            contentType: "application/json")
            #expect(unknown.0 == 400 && unknown.2.contains("unknown member 'x'"))
            let hotline = try await loop.tokens.sign(user: "agent", role: "hotline")
            let create = try await request(loop.port, "POST", "/v1/hotline/requests", token: hotline, body: "{\"vin\":\"\(vin)\"}",
                                           contentType: "application/json")
            #expect(create.0 == 404 && create.2.contains(#""reason":"unknown-vehicle""#))
        }
    }

    @Test("a second server on the same port fails to start with a clear error; non-loopback is refused")
    func refusals() async throws {
        try await withServer { loop in
            let mailbox = try OwnerMailbox()
            let second = try OwnerHTTPServer(address: HTTPListenAddress(host: "127.0.0.1", port: loop.port),
                                             context: OwnerHTTPContext(tokens: loop.tokens, mailbox: mailbox), log: { _ in })
            let outcome = try await offPool { Result { () throws(OwnerHTTPServerError) in try second.start(timeout: serverStartLimit) } }
            #expect(throws: OwnerHTTPServerError.self) { try outcome.get() }
        }
        #expect(throws: OwnerHTTPServerError.self) {
            try OwnerHTTPServer(address: HTTPListenAddress(host: "0.0.0.0", port: 0),
                                context: OwnerHTTPContext(tokens: TokenAuthority(key: ES256PrivateKey()), mailbox: try OwnerMailbox()),
                                log: { _ in })
        }
    }
}
