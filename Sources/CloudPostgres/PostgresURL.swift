import Foundation
import PostgresNIO

/// A PostgreSQL connection URL: `postgres://user[:password]@host[:port]/database` (or
/// `postgresql://…`); `?host=/path/to/socketdir` connects through the Unix socket
/// `/path/to/socketdir/.s.PGSQL.<port>` instead of TCP. No TLS: the fleet's database is on
/// loopback (a real deployment would require it).
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    /// The user name.
    public var user: String
    /// The password, if the URL has one.
    public var password: String?
    /// The TCP host (ignored when `socketDirectory` is set).
    public var host: String
    /// The port (TCP, or the number in the Unix socket's name).
    public var port: Int
    /// The database.
    public var database: String
    /// The directory of the server's Unix socket (`?host=/dir`), `nil` for TCP.
    public var socketDirectory: String?

    /// Parses `text`; a clear error names what is wrong.
    public init(_ text: String) throws(PostgresURLError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "postgres" || scheme == "postgresql" else {
            throw PostgresURLError("not a PostgreSQL URL (postgres://user@host:port/database): \(text)")
        }
        guard let user = components.user, !user.isEmpty else { throw PostgresURLError("no user in \(text)") }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else { throw PostgresURLError("no database (the path) in \(text)") }
        var socketDirectory: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "host":
                guard let value = item.value, value.hasPrefix("/") else {
                    throw PostgresURLError("?host= must be the absolute path of the socket directory in \(text)")
                }
                socketDirectory = value
            default:
                throw PostgresURLError("unsupported URL parameter \(item.name) in \(text)")
            }
        }
        let host = components.host ?? ""
        guard !host.isEmpty || socketDirectory != nil else { throw PostgresURLError("no host in \(text)") }
        self.user = user
        self.password = components.password
        self.host = host
        self.port = components.port ?? 5432
        self.database = database
        self.socketDirectory = socketDirectory
    }

    /// The URL without the password.
    public var description: String {
        let base = "postgres://\(user)@\(host):\(port)/\(database)"
        return socketDirectory.map { base + "?host=\($0)" } ?? base
    }

    /// The same server and user, another database (tests make one per test class).
    public func with(database: String) -> PostgresURL {
        var url = self
        url.database = database
        return url
    }

    /// PostgresNIO's connection configuration.
    var configuration: PostgresConnection.Configuration {
        if let socketDirectory {
            return PostgresConnection.Configuration(unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user,
                                                    password: password, database: database)
        }
        return PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database,
                                                tls: .disable)
    }
}

/// A malformed PostgreSQL URL.
public struct PostgresURLError: Error, Equatable, CustomStringConvertible {
    /// What is wrong.
    public var description: String
    init(_ description: String) { self.description = description }
}
