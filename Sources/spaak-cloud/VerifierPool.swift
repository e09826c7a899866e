import CloudSimulator
import EventLoop

/// Verifiers made in advance on one background thread, so that the single-threaded event
/// loop never stalls in scrypt (N = 32768 takes 0.1-1.5 s depending on the build and the
/// machine's load, longer than the module's 1000 ms TBM_Status supervision tolerates).
/// The thread only runs the pure derivation; everything else stays on the loop's thread,
/// which never waits for the thread (`PrefetchPool`: the loop only tries its lock).
final class VerifierPool: Sendable {
    private let pool: PrefetchPool<PreparedVerifier>

    /// Readable whenever a verifier was added: the event loop watches it and drains it.
    var notifyFD: Int32 { pool.notifyFD }

    /// A pool keeping `capacity` verifiers ready for `configuration`.
    init(configuration: VOSConfiguration, capacity: Int = 2) {
        pool = PrefetchPool(capacity: capacity) {
            try? VehicleOEMServer.makeVerifier(configuration: configuration, randomBytes: VehicleOEMServer.systemRandomBytes)
        }
    }

    /// `true` when a verifier is ready (and can be taken without waiting).
    var hasReady: Bool { pool.hasReady }

    /// Empties the notification pipe (call when `notifyFD` is readable).
    func drainNotifications() { pool.drainNotifications() }

    /// Starts the filler thread (after the event loop has set the signal mask).
    func start() { pool.start(name: "verifier-pool") }

    /// Stops the filler after its current derivation.
    func stop() { pool.stop() }

    /// A ready verifier, or `nil` when none is (the caller then derives one itself).
    func take() -> PreparedVerifier? { pool.take() }
}
