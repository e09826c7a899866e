import CloudSimulator
import Foundation
import PostgresNIO
import Synchronization

/// One PostgreSQL connection used synchronously from a plain thread (never a NIO thread):
/// every query waits for its result. Failed queries become `CloudRepositoryError.database`
/// with the SQLSTATE; serialization failures and a lost connection are remembered for the
/// transaction loop.
final class PostgresSession {
    let url: PostgresURL
    let logger: Logger
    private var connection: PostgresConnection?
    private static let ids = Mutex<Int>(0)

    /// Set when a query failed with SQLSTATE 40001 / 40P01 (the transaction may be run again).
    var serializationFailure = false

    init(url: PostgresURL, logger: Logger = Logger(label: "spaak.cloud.postgres")) throws {
        self.url = url
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
        do {
            connection = try PostgresConnection.connect(on: PostgresConnection.defaultEventLoopGroup.any(),
                                                        configuration: url.configuration, id: id, logger: logger).wait()
        } catch {
            throw CloudRepositoryError.database("cannot connect to \(url): \(Self.describe(error))")
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
        do {
            return try connection.query(query, logger: logger).wait()
        } catch let error as PSQLError {
            if let state = error.serverInfo?[.sqlState], state == "40001" || state == "40P01" { serializationFailure = true }
            throw PostgresSession.error(error)
        } catch {
            throw CloudRepositoryError.database(Self.describe(error))
        }
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
        try? connection.close().wait()
    }
}
