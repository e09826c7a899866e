import SpaakCore

/// A repository that counts its retried transactions (PostgreSQL: serialization failures
/// and deadlocks run the body again); `MeteredCloudRepository` reports the count.
public protocol RetryCountingCloudRepository: CloudRepository {
    /// Transactions run again after a serialization failure or deadlock, since start.
    var retries: Int { get }
}

/// A `CloudRepository` decorator that measures the database work of the VOS service (the
/// `stats` line): transactions run and the time spent in them, on an injected monotonic clock.
///
/// Used from the event loop's thread only, like the repository it wraps.
public final class MeteredCloudRepository: CloudRepository {
    /// The real repository.
    public let base: any CloudRepository
    private let clock: () -> Instant
    /// Transactions run (committed or not).
    public private(set) var transactions = 0
    /// The time spent in them, from before `base.transaction` to after it returned or threw:
    /// the database's work and the body's own (the VOS verifies and signs inside its
    /// transactions, and derives a verifier there when none was made in advance).
    public private(set) var time: Duration = .zero

    /// Wraps `base`; `clock` tells the monotonic time (a `VirtualClock` in tests).
    public init(_ base: any CloudRepository, clock: @escaping () -> Instant) {
        self.base = base
        self.clock = clock
    }

    /// Transactions the base repository ran again (0 when it does not retry, e.g. SQLite).
    public var retries: Int { (base as? any RetryCountingCloudRepository)?.retries ?? 0 }

    public func transaction<T>(_ body: (any CloudStore) throws -> T) throws -> T {
        let start = clock()
        defer {
            transactions += 1
            time += clock() - start
        }
        return try base.transaction(body)
    }
}
