import CloudPostgres
import CloudSimulator
import Foundation

/// The VOS's database as `--database` names it: `memory` (nothing kept; benchmarks and
/// tests), a PostgreSQL URL (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB`, `postgresql://…`;
/// a fleet, several VOS instances), or else the path of a SQLite file (created when missing;
/// one VOS instance).
enum VOSDatabase {
    /// What `spec` names.
    enum Kind: Equatable {
        case memory, postgres, sqlite
    }

    /// The kind of database `spec` names.
    static func kind(_ spec: String) -> Kind {
        if spec == "memory" { return .memory }
        if spec.hasPrefix("postgres://") || spec.hasPrefix("postgresql://") { return .postgres }
        return .sqlite
    }

    /// Opens (and migrates) the database `spec` names.
    static func open(_ spec: String) throws -> any CloudRepository {
        switch kind(spec) {
        case .memory: return InMemoryCloudRepository()
        case .postgres: return try PostgresCloudRepository(url: spec)
        case .sqlite: return try GRDBCloudRepository(path: spec)
        }
    }
}

