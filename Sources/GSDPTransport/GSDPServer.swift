import Dispatch
import GSDP
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle
import SpaakCore
import Synchronization

/// The VOS's GSDP endpoint: WebSocket at `GSDP.path` on a Hummingbird 2 server (NIO's
/// threads). A binary message is one ICD 7 message, a text message one GSDP control message
/// (JSON); this type only carries them. No TLS: it listens on loopback in the simulator (a
/// real deployment terminates mTLS in front of it).
///
/// Connections get ids (1, 2, …). What happens on them reaches the event loop as `Event`s
/// through `events` (poll `events.notifyFD`, then `events.take()`); `send` and `close` are
/// called from the loop's thread and return at once (each connection's writer task sends).
/// WebSocket pings go out every `pingPeriod` (`GSDP.pingInterval`, 5 s); a connection whose
/// pong does not come back within the next period is closed (the library's auto-ping, which
/// has no separate timeout: 5-10 s without a pong, within `GSDP.pongTimeout`).
///
/// Start it after the event loop blocked SIGINT/SIGTERM (NIO's threads inherit the mask),
/// `stop` it when the loop ends.
public final class GSDPServer: Sendable {
    /// What happened on a connection.
    public enum Event: Sendable, Equatable {
        /// A TBM connected (the WebSocket upgrade succeeded).
        case opened(UInt64)
        /// A text message (GSDP control, JSON).
        case text(UInt64, String)
        /// A binary message (one ICD 7 message).
        case binary(UInt64, [UInt8])
        /// The connection ended (closed by either side, or lost).
        case closed(UInt64)
    }

    private enum Outgoing: Sendable {
        case binary([UInt8])
        case text(String)
        case close(String)
    }

    /// The host it listens on.
    public let host: String
    /// The port asked for (0: the system picks; `start` returns the bound one).
    public let requestedPort: Int
    /// The connections' events, for the event loop.
    public let events: GSDPEventQueue<Event>
    /// The keep-alive period.
    public let pingPeriod: Duration
    /// The largest message accepted (an ICD 7 message is at most 4095 bytes).
    public static let maxMessageSize = 1 << 16

    private let writers = Mutex<[UInt64: AsyncStream<Outgoing>.Continuation]>([:])
    private let nextID = Atomic<UInt64>(1)
    private let running = Mutex<(task: Task<Void, Never>, group: ServiceGroup)?>(nil)
    private let finished = DispatchSemaphore(value: 0)
    private let log: @Sendable (String) -> Void

    /// A server for `host:port`; `log` gets a line for each connection opened or closed and
    /// for each failure.
    public init(host: String, port: Int, pingPeriod: Duration = GSDP.pingInterval,
                log: @escaping @Sendable (String) -> Void) throws(GSDPTransportError) {
        self.host = host
        self.requestedPort = port
        self.pingPeriod = pingPeriod
        self.log = log
        events = try GSDPEventQueue()
    }

    /// The URL of the endpoint on `port`, e.g. `ws://127.0.0.1:7070/gsdp/v1/spaak`.
    public func url(port: Int) -> String {
        "ws://\(host.contains(":") ? "[\(host)]" : host):\(port)\(GSDP.path)"
    }

    /// Connections open now.
    public var connectionCount: Int { writers.withLock { $0.count } }

    /// Sends a binary message on connection `id` (ignored when it is gone).
    public func send(_ id: UInt64, binary bytes: [UInt8]) { enqueue(id, .binary(bytes)) }

    /// Sends a text message on connection `id` (ignored when it is gone).
    public func send(_ id: UInt64, text: String) { enqueue(id, .text(text)) }

    /// Closes connection `id` after what was queued before (normal closure, `reason`).
    public func close(_ id: UInt64, reason: String) { enqueue(id, .close(reason)) }

    private func enqueue(_ id: UInt64, _ message: Outgoing) {
        _ = writers.withLock { $0[id]?.yield(message) }
    }

    /// Starts listening and returns the bound port once the server accepts connections
    /// (blocks the calling thread up to `timeout`).
    /// - Throws: `GSDPTransportError` when it cannot bind or does not start in time.
    public func start(timeout: Duration = .seconds(10)) throws(GSDPTransportError) -> Int {
        let outcome = Mutex<Result<Int, GSDPTransportError>?>(nil)
        let started = DispatchSemaphore(value: 0)
        let webSocket = WebSocketServerConfiguration(maxFrameSize: Self.maxMessageSize, autoPing: .enabled(timePeriod: pingPeriod))
        let router = Router(context: BasicRequestContext.self)
        var application = Application(
            router: router,
            server: .http1WebSocketUpgrade(configuration: .init(ws: webSocket)) { [self] request, _, _ in
                guard request.path == GSDP.path else { return .dontUpgrade }
                return .upgrade([:]) { inbound, outbound, _ in
                    await self.serve(inbound: inbound, outbound: outbound)
                }
            },
            configuration: .init(address: .hostname(host, port: requestedPort), serverName: "spaak-vos-gsdp"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? -1
                outcome.withLock { $0 = port > 0 ? .success(port) : .failure(GSDPTransportError("the GSDP server's port is unknown")) }
                started.signal()
            })
        application.logger.logLevel = .warning
        let group = ServiceGroup(configuration: .init(services: [application], logger: application.logger))
        let address = "\(host):\(requestedPort)"
        let finished = self.finished
        let task = Task.detached {
            do {
                try await group.run()
            } catch {
                let failed = outcome.withLock { state -> Bool in
                    guard state == nil else { return false }
                    state = .failure(GSDPTransportError("cannot listen on \(address): \(error)"))
                    return true
                }
                if failed { started.signal() }
            }
            finished.signal()
        }
        running.withLock { $0 = (task, group) }
        guard started.wait(timeout: .now() + timeout.inSeconds) == .success else {
            task.cancel()
            throw GSDPTransportError("the GSDP server did not start within \(timeout)")
        }
        switch outcome.withLock({ $0 }) {
        case .success(let port)?: return port
        case .failure(let error)?: throw error
        case nil: throw GSDPTransportError("the GSDP server did not start")
        }
    }

    /// Closes every connection (going away), stops the server, waits up to `grace` for it to
    /// end, then cancels it. Events of the closing connections still arrive in `events`.
    public func stop(grace: Duration = .seconds(3)) {
        guard let (task, group) = running.withLock({ state in defer { state = nil }; return state }) else { return }
        for writer in writers.withLock({ Array($0.values) }) { writer.yield(.close("the VOS instance is stopping")) }
        Task.detached { await group.triggerGracefulShutdown() }
        if finished.wait(timeout: .now() + grace.inSeconds) != .success {
            task.cancel()
            _ = finished.wait(timeout: .now() + 3)
        }
    }

    /// One connection: its reader posts events, its writer sends what the loop queued.
    private func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let (stream, continuation) = AsyncStream<Outgoing>.makeStream()
        writers.withLock { $0[id] = continuation }
        events.post(.opened(id))
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await message in stream {
                    do {
                        switch message {
                        case .binary(let bytes): try await outbound.write(.binary(ByteBuffer(bytes: bytes)))
                        case .text(let text): try await outbound.write(.text(text))
                        case .close(let reason):
                            try await outbound.close(.normalClosure, reason: reason)
                            return
                        }
                    } catch {
                        self.log("GSDP connection \(id): send failed: \(error)")
                        return
                    }
                }
            }
            do {
                for try await message in inbound.messages(maxSize: Self.maxMessageSize) {
                    switch message {
                    case .text(let text): events.post(.text(id, text))
                    case .binary(let buffer): events.post(.binary(id, Array(buffer.readableBytesView)))
                    }
                }
            } catch {
                log("GSDP connection \(id): \(error)")
            }
            continuation.finish()
            group.cancelAll()
        }
        writers.withLock { _ = $0.removeValue(forKey: id) }
        events.post(.closed(id))
    }
}
