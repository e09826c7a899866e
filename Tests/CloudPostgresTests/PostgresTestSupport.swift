@testable import CloudPostgres
import CloudSimulator
import Foundation
import Synchronization
import TestPKI
import XCTest

/// The PostgreSQL server of the tests: `SPAAK_TEST_POSTGRES_URL` when set (a user allowed to
/// create databases), else a throw-away cluster started with `scripts/pgtemp` for each test
/// class (stopped and removed in its class tearDown). `SPAAK_TEST_POSTGRES=0` skips the tests;
/// otherwise a missing server is a failure, never a skip.
enum PostgresTestServer {
    /// A started (or given) server.
    struct Server {
        var url: PostgresURL
        /// The pgtemp directory, when the tests started the cluster.
        var directory: String?
    }

    static var disabled: Bool { ProcessInfo.processInfo.environment["SPAAK_TEST_POSTGRES"] == "0" }

    /// The project's root (this file is Tests/CloudPostgresTests/PostgresTestSupport.swift).
    static let projectRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// The server: the environment's, or a new pgtemp cluster.
    static func start() throws -> Server {
        if let text = ProcessInfo.processInfo.environment["SPAAK_TEST_POSTGRES_URL"], !text.isEmpty {
            return Server(url: try PostgresURL(text), directory: nil)
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spaak-pgtest-\(UUID().uuidString.prefix(8))").path
        let output = try pgtemp("start", directory)
        guard let last = output.split(separator: "\n").last else {
            throw PostgresTestError("scripts/pgtemp start printed no URL")
        }
        return Server(url: try PostgresURL(String(last)), directory: directory)
    }

    /// Stops (and removes) a cluster the tests started.
    static func stop(_ server: Server) {
        guard let directory = server.directory else { return }
        _ = try? pgtemp("stop", directory)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs scripts/pgtemp; its stdout, or an error with its stderr. (posix_spawn and
    /// waitpid: Foundation's Process.waitUntilExit can miss the exit of a script whose
    /// grandchild, the server, lives on.)
    private static func pgtemp(_ command: String, _ directory: String) throws -> String {
        let outPath = directory + ".out", errPath = directory + ".err"
        defer {
            unlink(outPath)
            unlink(errPath)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let arguments = ["/bin/bash", "\(projectRoot)/scripts/pgtemp", command, directory]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/bash", &actions, nil, &argv, environ)
        guard spawned == 0 else { throw PostgresTestError("cannot run scripts/pgtemp: errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let stdout = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw PostgresTestError("scripts/pgtemp \(command) \(directory) failed (wait status \(status)): \(stderr)")
        }
        return stdout
    }

    /// A new empty database on `server`; its URL.
    static func createDatabase(on server: Server) throws -> PostgresURL {
        let name = "spaak_t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        try admin(server) { try $0.execute(sql: "CREATE DATABASE \(name)") }
        return server.url.with(database: String(name))
    }

    /// Drops a database made by `createDatabase` (closing its connections).
    static func dropDatabase(_ url: PostgresURL, on server: Server) {
        try? admin(server) { try $0.execute(sql: "DROP DATABASE IF EXISTS \(url.database) WITH (FORCE)") }
    }

    /// Runs `body` on a connection to the server's own database.
    static func admin(_ server: Server, _ body: (PostgresSession) throws -> Void) throws {
        let session = try PostgresSession(url: server.url)
        defer { session.close() }
        try body(session)
    }
}

/// A failure to provide the test server.
struct PostgresTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A test case with a fresh database per test (`databaseURL`) on the class's server.
class PostgresTestCase: XCTestCase {
    private static let servers = Mutex<[ObjectIdentifier: Result<PostgresTestServer.Server, any Error>]>([:])

    /// The server of this class.
    var server: PostgresTestServer.Server!
    /// This test's database.
    var databaseURL: PostgresURL!
    /// `databaseURL` as text.
    var url: String { databaseURL.description }

    override class func setUp() {
        super.setUp()
        guard !PostgresTestServer.disabled else { return }
        let result = Result { try PostgresTestServer.start() }
        servers.withLock { $0[ObjectIdentifier(self)] = result }
    }

    override class func tearDown() {
        if case .success(let server)? = servers.withLock({ $0.removeValue(forKey: ObjectIdentifier(self)) }) {
            PostgresTestServer.stop(server)
        }
        super.tearDown()
    }

    override func setUpWithError() throws {
        try super.setUpWithError()
        if PostgresTestServer.disabled { throw XCTSkip("SPAAK_TEST_POSTGRES=0: PostgreSQL tests skipped") }
        switch Self.servers.withLock({ $0[ObjectIdentifier(type(of: self))] }) {
        case .success(let server)?:
            self.server = server
        case .failure(let error)?:
            XCTFail("""
                no PostgreSQL for the tests: \(error). Install Debian's postgresql (scripts/setup) so that \
                scripts/pgtemp can start one, or set SPAAK_TEST_POSTGRES_URL=postgres://USER@HOST:PORT/DB \
                (a user that may CREATE DATABASE); SPAAK_TEST_POSTGRES=0 skips these tests
                """)
            throw error
        case nil:
            XCTFail("the class setUp did not run")
            throw PostgresTestError("no server")
        }
        databaseURL = try PostgresTestServer.createDatabase(on: server)
    }

    override func tearDown() {
        if let databaseURL, let server { PostgresTestServer.dropDatabase(databaseURL, on: server) }
        super.tearDown()
    }

    /// Runs `body(i)` for i in 0..<count on `count` threads at once; rethrows the first error.
    func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) throws {
        let errors = Mutex<[any Error]>([])
        let start = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        for index in 0..<count {
            group.enter()
            let thread = Thread {
                start.wait()
                do { try body(index) } catch { errors.withLock { $0.append(error) } }
                group.leave()
            }
            thread.start()
        }
        for _ in 0..<count { start.signal() }
        group.wait()
        if let first = errors.withLock({ $0.first }) { throw first }
    }
}

/// One PKI for the whole run.
let sharedPKI: TestPKIHierarchy = {
    do { return try TestPKIHierarchy.generate(now: testDate, validityDays: 3650) } catch { fatalError("test PKI: \(error)") }
}()

/// The tests' wall clock (whole seconds: PostgreSQL keeps microseconds, SQLite milliseconds).
let testDate = Date(timeIntervalSince1970: 1_800_000_000)
