import CloudSimulator
import SpaakCore
import Testing

/// `MeteredCloudRepository`: transactions and their time on an injected clock, the base's retries.
@Suite("MeteredCloudRepository")
struct MeteredCloudRepositoryTests {
    /// A repository that says it retried (as PostgreSQL's does).
    final class Retrying: RetryCountingCloudRepository {
        let base = InMemoryCloudRepository()
        var retries = 0
        func transaction<T>(_ body: (any CloudStore) throws -> T) throws -> T {
            retries += 1
            return try base.transaction(body)
        }
    }

    struct Boom: Error {}

    @Test("Counts transactions (failed ones too) and sums their time")
    func countsAndTimes() throws {
        let clock = VirtualClock()
        let metered = MeteredCloudRepository(InMemoryCloudRepository()) { clock.now }
        try metered.transaction { _ in clock.advance(by: .milliseconds(7)) }
        #expect(throws: Boom.self) { try metered.transaction { _ in clock.advance(by: .milliseconds(3)); throw Boom() } }
        #expect(metered.transactions == 2)
        #expect(metered.time == .milliseconds(10))
        #expect(metered.retries == 0)
    }

    @Test("Reports the retries of a base that counts them")
    func retries() throws {
        let base = Retrying()
        let metered = MeteredCloudRepository(base) { .zero }
        try metered.transaction { _ in }
        try metered.transaction { _ in }
        #expect(metered.retries == 2)
    }

    @Test("stats parses; anything after it is refused")
    func statsCommand() throws {
        #expect(try ControlCommand.parse("stats") == .stats)
        #expect(ControlCommand.stats.text == "stats")
        #expect(throws: ControlCommandError.self) { try ControlCommand.parse("stats now") }
    }
}
