import Foundation
import GSDP
import GSDPTransport
import HummingbirdWSClient
import Logging
import NIOCore
import Synchronization
import Testing

/// `GSDPServer` with a real WebSocket client (HummingbirdWSClient) on loopback: the events
/// reach the loop's queue (its descriptor readable), sends and closes from the "loop" reach the client.
@Suite("GSDPServer: the VOS's WebSocket endpoint on loopback", .serialized)
struct GSDPServerTests {
    /// Stops `server` on a thread of its own (`stop` blocks its caller too).
    private func stop(_ server: GSDPServer) async {
        await withCheckedContinuation { continuation in
            Thread {
                server.stop()
                continuation.resume()
            }.start()
        }
    }

    /// Starts `server` on a thread of its own: `start` blocks its caller (the event loop's
    /// thread in the VOS) while the server starts on Swift's concurrency pool, which a test's
    /// thread belongs to. The pool's queue ahead of the server's task holds the other suites'
    /// synchronous tests (a minute and more of them on 2 cores), hence the long limit.
    private func start(_ server: GSDPServer) async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try server.start(timeout: .seconds(300)) }) }.start()
        }
    }

    /// Takes events until `done` holds for them all (or 60 s pass: the server's tasks share the
    /// pool with the other suites' tests).
    private func events(of server: GSDPServer, until done: ([GSDPServer.Event]) -> Bool) async throws -> [GSDPServer.Event] {
        var all: [GSDPServer.Event] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while !done(all), ContinuousClock.now < deadline {
            var watch = pollfd(fd: server.events.notifyFD, events: Int16(POLLIN), revents: 0)
            if poll(&watch, 1, 0) > 0 { all += server.events.take() } else { try await Task.sleep(for: .milliseconds(10)) }
        }
        return all
    }

    @Test("Text and binary messages both ways, then the client closes: opened, text, binary, closed")
    func roundTrip() async throws {
        let server = try GSDPServer(host: "127.0.0.1", port: 0) { _ in }
        let port = try await start(server)
        #expect(server.url(port: port) == "ws://127.0.0.1:\(port)/gsdp/v1/spaak")
        let received = Mutex<[WebSocketMessage]>([])
        let client = Task {
            try await WebSocketClient.connect(url: server.url(port: port), logger: Logger(label: "test")) { inbound, outbound, _ in
                try await outbound.write(.text(#"{"hello":{"serials":[],"tbm":"t"}}"#))
                try await outbound.write(.binary(ByteBuffer(bytes: [0x01, 0x0A, 0xFF])))
                var iterator = inbound.messages(maxSize: 1 << 16).makeAsyncIterator()
                for _ in 0..<2 {
                    guard let message = try await iterator.next() else { break }
                    received.withLock { $0.append(message) }
                }
                try await outbound.close(.normalClosure, reason: "done")
            }
        }
        let first = try await events(of: server) { $0.count >= 3 }
        let id = try #require(first.first.flatMap { if case .opened(let id) = $0 { id } else { nil } })
        #expect(first == [.opened(id), .text(id, #"{"hello":{"serials":[],"tbm":"t"}}"#), .binary(id, [0x01, 0x0A, 0xFF])])
        #expect(server.connectionCount == 1)
        server.send(id, text: #"{"welcome":{"instance":"vos-1"}}"#)
        server.send(id, binary: [0x10, 0x20])
        let closing = try await events(of: server) { $0.contains(.closed(id)) }
        #expect(closing == [.closed(id)])
        _ = try await client.value
        #expect(received.withLock { $0 } == [.text(#"{"welcome":{"instance":"vos-1"}}"#), .binary(ByteBuffer(bytes: [0x10, 0x20]))])
        #expect(server.connectionCount == 0)
        await stop(server)
    }

    @Test("close from the loop ends the client's connection; another path is not upgraded")
    func serverCloses() async throws {
        let server = try GSDPServer(host: "127.0.0.1", port: 0) { _ in }
        let port = try await start(server)
        let client = Task {
            try await WebSocketClient.connect(url: server.url(port: port), logger: Logger(label: "test")) { inbound, _, _ in
                for try await _ in inbound {}
            }
        }
        let opened = try await events(of: server) { !$0.isEmpty }
        guard case .opened(let id)? = opened.first else {
            Issue.record("no connection: \(opened)")
            return
        }
        server.close(id, reason: "bye")
        #expect(try await events(of: server) { $0.contains(.closed(id)) } == [.closed(id)])
        let frame = try await client.value
        #expect(frame?.reason == "bye")
        await #expect(throws: (any Error).self) {
            try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/other", logger: Logger(label: "test")) { _, _, _ in }
        }
        await stop(server)
    }
}
