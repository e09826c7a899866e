import CloudSimulator
import Foundation
import PostgresNIO
import SpaakCore
import Synchronization

/// One PostgreSQL connection used synchronously from a plain thread (never a NIO thread):
/// every query waits for its result, at most `answerTimeout`. Failed queries become
/// `CloudRepositoryError.database` with the SQLSTATE; serialization failures and a lost
/// connection are remembered for the transaction loop. A query without an answer in time
/// closes the connection and fails: the event loop that called it is never held longer, and
/// the next transaction connects again. The server rolls the abandoned transaction back once
/// it notices the closed socket (a statement waiting on a lock first finishes its wait).
final class PostgresSession {
    let url: PostgresURL
    let logger: Logger
    /// The longest wait for one query's answer (or for the connection to be made).
    let answerTimeout: Duration
    private var connection: PostgresConnection?
    private static let ids = Mutex<Int>(0)

    /// Set when a query failed with SQLSTATE 40001 / 40P01 (the transaction may be run again).
    var serializationFailure = false

    init(url: PostgresURL, answerTimeout: Duration = .seconds(10), logger: Logger = Logger(label: "spaak.cloud.postgres")) throws {
        self.url = url
        self.answerTimeout = answerTimeout
        self.logger = logger
        try connect()
    }

    /// Connects unless connected (again after the connection was lost).
    func connect() throws {
        if let connection, !connection.isClosed { return }
        connection = nil
        let id = Self.ids.withLock { value in
            value += 1
            return value
        }
        let connecting = PostgresConnection.connect(on: PostgresConnection.defaultEventLoopGroup.any(),
                                                    configuration: url.configuration, id: id, logger: logger)
        switch Self.result(of: connecting, within: answerTimeout) {
        case .success(let made): connection = made
        case .failure(let error): throw CloudRepositoryError.database("cannot connect to \(url): \(Self.describe(error))")
        case nil:
            connecting.whenSuccess { late in Self.closeLater(late) }
            throw CloudRepositoryError.database("cannot connect to \(url): no answer within \(answerTimeout)")
        }
    }

    /// Runs `query` and returns its rows.
    @discardableResult
    func rows(_ query: PostgresQuery) throws -> [PostgresRandomAccessRow] {
        try run(query).rows.map { $0.makeRandomAccess() }
    }

    /// Runs `query` and returns the number of rows it changed.
    @discardableResult
    func execute(_ query: PostgresQuery) throws -> Int {
        try run(query).metadata.rows ?? 0
    }

    /// Runs `sql` as it is, without parameters (administration: CREATE DATABASE, …).
    @discardableResult
    func execute(sql: String) throws -> Int { try execute(PostgresQuery(unsafeSQL: sql)) }

    /// The first column of every row of `sql` as text (NULL: `nil`); `sql` casts it to TEXT.
    func column(sql: String) throws -> [String?] {
        try rows(PostgresQuery(unsafeSQL: sql)).map { row in try row[0].decode(String?.self) }
    }

    private func run(_ query: PostgresQuery) throws -> PostgresQueryResult {
        guard let connection, !connection.isClosed else {
            throw CloudRepositoryError.database("the connection to \(url) is closed")
        }
        switch Self.result(of: connection.query(query, logger: logger), within: answerTimeout) {
        case .success(let result):
            return result
        case .failure(let error as PSQLError):
            if let state = error.serverInfo?[.sqlState], state == "40001" || state == "40P01" { serializationFailure = true }
            throw PostgresSession.error(error)
        case .failure(let error):
            throw CloudRepositoryError.database(Self.describe(error))
        case nil:
            self.connection = nil
            Self.closeLater(connection)
            logger.error("no answer from PostgreSQL within \(answerTimeout): connection closed", metadata: ["url": "\(url)"])
            throw CloudRepositoryError.database("no answer from \(url) within \(answerTimeout): connection closed, its transaction abandoned")
        }
    }

    /// `future`'s result, or `nil` when it has none after `timeout` (waits on this thread).
    static func result<T: Sendable>(of future: EventLoopFuture<T>, within timeout: Duration) -> Result<T, any Error>? {
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<T, any Error>?>(nil)
        future.whenComplete { result in
            outcome.withLock { $0 = result }
            done.signal()
        }
        guard done.wait(timeout: .now() + timeout.inSeconds) == .success else { return nil }
        return outcome.withLock { $0 }
    }

    /// The SQLSTATE of `error` when the server sent one.
    static func sqlState(_ error: any Error) -> String? { (error as? PSQLError)?.serverInfo?[.sqlState] }

    /// `error` as a repository error; a unique violation (23505) stays recognisable by its SQLSTATE.
    static func error(_ error: PSQLError) -> CloudRepositoryError { .database(describe(error)) }

    /// Text for logs: the server's SQLSTATE and message, or the client's error code.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let info = error.serverInfo {
            let detail = info[.detail].map { " (\($0))" } ?? ""
            return "\(info[.sqlState] ?? "?????") \(info[.message] ?? "")\(detail)"
        }
        return "\(error.code)" + (error.underlying.map { ": \($0)" } ?? "")
    }

    /// Closes the connection.
    func close() {
        guard let connection else { return }
        self.connection = nil
        _ = Self.result(of: Self.closeLater(connection), within: answerTimeout)
    }

    /// Closes `connection` without waiting; it lives until closed (the library asserts that).
    @discardableResult
    private static func closeLater(_ connection: PostgresConnection) -> EventLoopFuture<Void> {
        let closing: EventLoopFuture<Void> = connection.close()
        closing.whenComplete { _ in withExtendedLifetime(connection) {} }
        return closing
    }
}
