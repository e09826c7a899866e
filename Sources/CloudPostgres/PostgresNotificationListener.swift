import CloudSimulator
import Foundation
import PostgresNIO
import Synchronization

/// Listens on a PostgreSQL channel (`spaak_c2v`: another VOS instance queued a C2V push for
/// a serial) on a connection of its own, and hands every payload to `handler`, on a NIO or
/// task thread: the caller posts it to its own loop. The connection is made again when it
/// drops, after 0.25 s doubling to 8 s; `onListening` runs every time `LISTEN` is in place
/// (first and after each reconnection: notifications sent while the listener was away are
/// lost, so the caller re-reads what it may have missed, e.g. the outbox of its vehicles).
public final class PostgresNotificationListener: Sendable {
    private let url: PostgresURL
    private let channel: String
    private let logger: Logger
    private let handler: @Sendable (String) -> Void
    private let onListening: @Sendable () -> Void
    private struct State {
        var task: Task<Void, Never>?
        var connection: PostgresConnection?
        var stopped = false
    }
    private let state = Mutex(State())

    /// A listener of `channel` on the server of `url` (see `PostgresURL`); `start()` starts it.
    public init(url: String, channel: String = PostgresCloudRepository.notificationChannel,
                logger: Logger = Logger(label: "spaak.cloud.postgres.listen"),
                onListening: @escaping @Sendable () -> Void = {}, handler: @escaping @Sendable (String) -> Void) throws {
        do { self.url = try PostgresURL(url) } catch { throw CloudRepositoryError.database(error.description) }
        self.channel = channel
        self.logger = logger
        self.handler = handler
        self.onListening = onListening
    }

    /// Connects and listens (in the background) until `stop()`.
    public func start() {
        state.withLock { state in
            guard state.task == nil, !state.stopped else { return }
            state.task = Task { [self] in await run() }
        }
    }

    /// Stops listening and closes the connection; waits until the listener is done.
    public func stop() {
        let (task, connection) = state.withLock { state in
            state.stopped = true
            return (state.task, state.connection)
        }
        task?.cancel()
        connection?.close().whenComplete { _ in }
        guard let task else { return }
        let done = DispatchSemaphore(value: 0)
        Task {
            await task.value
            done.signal()
        }
        done.wait()
    }

    private var stopped: Bool { state.withLock { $0.stopped } }

    private func run() async {
        var delay = 0.25
        var id = 0
        while !stopped {
            id += 1
            do {
                let connection = try await PostgresConnection.connect(configuration: url.configuration, id: id, logger: logger)
                let keep = state.withLock { state -> Bool in
                    if state.stopped { return false }
                    state.connection = connection
                    return true
                }
                guard keep else {
                    try? await connection.close()
                    return
                }
                defer { state.withLock { $0.connection = nil } }
                do {
                    try await connection.listen(on: channel) { notifications in
                        delay = 0.25
                        onListening()
                        for try await notification in notifications { handler(notification.payload) }
                    }
                } catch {
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
            } catch {
                if stopped { return }
                logger.warning("LISTEN \(channel) on \(url): \(PostgresSession.describe(error)); again in \(Int(delay * 1000)) ms")
            }
            if stopped { return }
            try? await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            delay = min(delay * 2, 8)
        }
    }
}
