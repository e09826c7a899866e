import Foundation
import GSDP
import GSDPTransport
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle
import XCTest

/// `GSDPClient` against a small real WebSocket server (Hummingbird) on loopback.
final class GSDPClientTests: XCTestCase {
    /// A VOS stand-in: answers a hello with a welcome, echoes a binary message reversed, and
    /// closes the connection (going away) when a binary message is `[0xFF]`.
    private final class TestServer: @unchecked Sendable {
        let group: ServiceGroup
        let task: Task<Void, any Error>
        let port: Int
        let texts: TextLog

        init() async throws {
            let portBox = PortBox()
            let router = Router(context: BasicRequestContext.self)
            let log = TextLog()
            let sink: @Sendable (String) -> Void = { log.append($0) }
            var application = Application(
                router: router,
                server: .http1WebSocketUpgrade(configuration: .init(ws: .init(autoPing: .disabled))) { request, _, _ in
                    guard request.path == GSDP.path else { return .dontUpgrade }
                    return .upgrade([:]) { inbound, outbound, _ in
                        for try await message in inbound.messages(maxSize: 1 << 16) {
                            switch message {
                            case .text(let text):
                                sink(text)
                                if case .hello? = try? GSDPControlMessage.decode(text) {
                                    try await outbound.write(.text(GSDPControlMessage.welcome(GSDPWelcome(instance: "vos-test")).text))
                                }
                            case .binary(let buffer):
                                let bytes = Array(buffer.readableBytesView)
                                if bytes == [0xFF] {
                                    try await outbound.close(.goingAway, reason: "test over")
                                    return
                                }
                                try await outbound.write(.binary(ByteBuffer(bytes: bytes.reversed())))
                            }
                        }
                    }
                },
                configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { channel in portBox.set(channel.localAddress?.port ?? -1) })
            application.logger.logLevel = .error
            let group = ServiceGroup(configuration: .init(services: [application], logger: application.logger))
            self.group = group
            task = Task { try await group.run() }
            port = try await portBox.wait()
            texts = log
        }

        var url: String { "ws://127.0.0.1:\(port)\(GSDP.path)" }

        func stop() async {
            await group.triggerGracefulShutdown()
            _ = try? await task.value
        }
    }

    private final class TextLog: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [String] = []
        func append(_ text: String) { lock.withLock { items.append(text) } }
        var all: [String] { lock.withLock { items } }
    }

    private actor PortBox {
        private var port: Int?
        nonisolated func set(_ port: Int) { Task { await self.store(port) } }
        private func store(_ port: Int) { self.port = port }
        func wait() async throws -> Int {
            for _ in 0..<6000 {  // up to 60 s: NIO's first bind takes seconds on a loaded machine
                if let port { return port }
                try await Task.sleep(for: .milliseconds(10))
            }
            throw CancellationError()
        }
    }

    /// Waits (poll on the notify descriptor, like the event loop) until `count` events arrived.
    private func events(_ client: GSDPClient, count: Int, within seconds: Double = 30) -> [GSDPClientEvent] {
        var collected: [GSDPClientEvent] = []
        let end = Date().addingTimeInterval(seconds)
        while collected.count < count, Date() < end {
            var descriptor = pollfd(fd: client.events.notifyFD, events: Int16(POLLIN), revents: 0)
            _ = poll(&descriptor, 1, 100)
            collected += client.events.take()
        }
        return collected
    }

    func testHelloWelcomeBinaryBothWaysAndServerClose() async throws {
        let server = try await TestServer()
        let client = try GSDPClient(logger: Logger(label: "test"))
        client.connect(server.url)
        XCTAssertEqual(events(client, count: 1), [.connected(server.url)])

        let hello = GSDPControlMessage.hello(GSDPHello(tbm: "tbm-test", serials: ["SPK0000000001"])).text
        client.send(text: hello)
        XCTAssertEqual(events(client, count: 1), [.text(#"{"welcome":{"instance":"vos-test"}}"#)])

        let message = (0..<3000).map { UInt8($0 & 0xFF) }
        client.send(binary: message)
        client.send(binary: [1, 2, 3])
        XCTAssertEqual(events(client, count: 2), [.binary(message.reversed()), .binary([3, 2, 1])])

        client.send(binary: [0xFF])
        let closing = events(client, count: 1)
        guard case .closed(let reason)? = closing.first, closing.count == 1 else { return XCTFail("\(closing)") }
        XCTAssertTrue(reason.contains("test over"), reason)
        XCTAssertEqual(server.texts.all, [hello])

        // The next connection works the same (the client is reusable).
        client.connect(server.url)
        XCTAssertEqual(events(client, count: 1), [.connected(server.url)])
        client.close(reason: "done")
        XCTAssertEqual(events(client, count: 1, within: 1), [], "nothing is reported after close")
        client.shutdown()
        await server.stop()
    }

    func testRefusedConnectionIsReportedClosed() throws {
        // A port nobody listens on: bind one, close it.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))
        close(fd)

        let client = try GSDPClient(logger: Logger(label: "test"))
        client.connect("ws://127.0.0.1:\(port)\(GSDP.path)")
        let got = events(client, count: 1)
        guard case .closed(let reason)? = got.first else { return XCTFail("\(got)") }
        XCTAssertFalse(reason.isEmpty)
        client.send(text: "dropped: no connection")
        client.shutdown()
    }

    func testWrongPathIsReportedClosed() async throws {
        let server = try await TestServer()
        let client = try GSDPClient(logger: Logger(label: "test"))
        client.connect("ws://127.0.0.1:\(server.port)/other")
        let got = events(client, count: 1)
        guard case .closed? = got.first else { return XCTFail("\(got)") }
        client.shutdown()
        await server.stop()
    }
}
