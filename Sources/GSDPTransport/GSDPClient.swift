import Dispatch
import Foundation
import GSDP
import HummingbirdWSClient
import Logging
import NIOCore
import NIOPosix
import SpaakCore

/// What happened on a `GSDPClient`'s connection.
public enum GSDPClientEvent: Equatable, Sendable {
    /// The WebSocket to the URL is open (the upgrade succeeded).
    case connected(String)
    /// A text message arrived.
    case text(String)
    /// A binary message arrived.
    case binary([UInt8])
    /// The connection ended, or the attempt failed (the reason for the log).
    case closed(String)
}

/// The TBM's WebSocket client for GSDP (HummingbirdWSClient on its own NIO thread and tasks):
/// it only executes — `connect`, `send`, `close` from the event loop's thread — and reports
/// through `events` (a `NotifyingQueue`: watch `events.notifyFD`, then `events.take()`).
/// When and where to reconnect is `GSDPLinkMachine`'s decision.
///
/// One connection at a time. After `close` (or a new `connect`) nothing more is reported about
/// the previous connection. Keep-alive: a WebSocket ping every `GSDP.pingInterval`; the
/// library closes a connection whose ping is not answered before the next one is due.
public final class GSDPClient: @unchecked Sendable {
    /// The client's reports, in order.
    public let events: GSDPEventQueue<GSDPClientEvent>

    private enum Outgoing: Sendable {
        case binary([UInt8])
        case text(String)
        case close(String)
    }

    private let group: MultiThreadedEventLoopGroup
    private let logger: Logger
    private let configuration: WebSocketClientConfiguration
    private let maxMessageSize: Int
    private let lock = NSLock()
    private var generation: UInt64 = 0
    private var outbound: AsyncStream<Outgoing>.Continuation?
    private var task: Task<Void, Never>?
    /// Signalled when the current connection's task has ended.
    private var ended: DispatchSemaphore?

    /// Creates the client (one NIO thread; create it after the loop blocked its signals, so
    /// that the thread inherits the mask). Messages up to `maxMessageSize` bytes are taken.
    public init(logger: Logger, pingInterval: Duration = GSDP.pingInterval, maxMessageSize: Int = 1 << 16) throws {
        events = try GSDPEventQueue()
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.logger = logger
        self.maxMessageSize = maxMessageSize
        configuration = WebSocketClientConfiguration(maxFrameSize: maxMessageSize, closeTimeout: .seconds(2),
                                                     autoPing: .enabled(timePeriod: pingInterval))
    }

    /// Opens a WebSocket to `url` (closing the current connection, if any, without a report).
    public func connect(_ url: String) {
        let (stream, continuation) = AsyncStream<Outgoing>.makeStream()
        let done = DispatchSemaphore(value: 0)
        lock.lock()
        generation += 1
        let current = generation
        let previous = (outbound, task)
        outbound = continuation
        ended = done
        task = Task { [self] in
            await run(url: url, generation: current, outgoing: stream)
            done.signal()
        }
        lock.unlock()
        previous.0?.finish()
        previous.1?.cancel()
    }

    /// Sends a binary message on the current connection (dropped when there is none).
    public func send(binary bytes: [UInt8]) { enqueue(.binary(bytes)) }

    /// Sends a text message on the current connection (dropped when there is none).
    public func send(text: String) { enqueue(.text(text)) }

    /// Closes the current connection (a close frame with `reason`); no `.closed` is reported for it.
    public func close(reason: String) {
        lock.lock()
        generation += 1
        let continuation = outbound
        outbound = nil
        lock.unlock()
        continuation?.yield(.close(reason))
        continuation?.finish()
    }

    /// Closes the connection (waiting up to `grace` for the close handshake) and stops the
    /// NIO thread (blocks until it has stopped).
    public func shutdown(grace: Duration = .seconds(1)) {
        close(reason: "shutting down")
        lock.lock()
        let running = task
        let done = ended
        task = nil
        ended = nil
        lock.unlock()
        if let done, done.wait(timeout: .now() + grace.inSeconds) == .success { done.signal() }
        running?.cancel()
        try? group.syncShutdownGracefully()
    }

    private func enqueue(_ item: Outgoing) {
        lock.lock()
        let continuation = outbound
        lock.unlock()
        continuation?.yield(item)
    }

    /// Reports `event` unless its connection was closed or replaced meanwhile.
    private func report(_ event: GSDPClientEvent, generation: UInt64) {
        lock.lock()
        let current = self.generation == generation
        lock.unlock()
        if current { events.post(event) }
    }

    private func run(url: String, generation: UInt64, outgoing: AsyncStream<Outgoing>) async {
        let maxMessageSize = self.maxMessageSize
        let client = WebSocketClient(url: url, configuration: configuration, eventLoopGroup: group, logger: logger) { inbound, outbound, _ in
            self.report(.connected(url), generation: generation)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask {
                    for await item in outgoing {
                        switch item {
                        case .binary(let bytes): try await outbound.writeBinaryMessage(ByteBuffer(bytes: bytes))
                        case .text(let text): try await outbound.writeTextMessage(text)
                        case .close(let reason):
                            try await outbound.close(.normalClosure, reason: String(reason.prefix(120)))
                            return
                        }
                    }
                }
                tasks.addTask {
                    for try await message in inbound.messages(maxSize: maxMessageSize) {
                        switch message {
                        case .text(let text): self.report(.text(text), generation: generation)
                        case .binary(let buffer): self.report(.binary(Array(buffer: buffer)), generation: generation)
                        }
                    }
                }
                // Either side ending (the server closed, or we did) ends the connection.
                try await tasks.next()
                tasks.cancelAll()
            }
        }
        do {
            let frame = try await client.run()
            let reason = frame.map { "closed by the server (\($0.closeCode)\($0.reason.map { ": " + $0 } ?? ""))" } ?? "connection closed"
            report(.closed(reason), generation: generation)
        } catch {
            report(.closed("\(error)"), generation: generation)
        }
    }
}
