#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import SecureStore

/// The module's view of its secure store, shared by reference by the components that read
/// it (`DiagnosticApplication`, `CloudLink`, `VehicleProvisioning`, `StoreJobs`).
///
/// It holds the store, the wall clock (certificate validity) and the cached
/// `ProvisioningSnapshot`: re-read after every change of the store (`refresh`, or a store
/// job's re-read adopted by `adopt`), never per cyclic frame; each damaged entry is logged
/// once. Every call into `store` is I/O (files and fsync in `spaak-ecu`).
final class StoreView {
    /// The module's secure store.
    let store: any SecureStore
    /// Calendar time for certificate validity checks (an input of the shell).
    let wallClock: @Sendable () -> Date
    /// The VIN given at start (`--vin`), used while none is stored.
    let configuredVIN: String?
    private let logger: Logger
    /// What the store holds, as last read.
    private(set) var snapshot: ProvisioningSnapshot
    /// Counts the reads of the store: a store job's re-read is adopted only if the store was
    /// not read again since the job was submitted.
    private(set) var generation = 0
    private var loggedDamage: Set<String> = []

    /// Reads the store once (damaged entries are logged).
    init(store: any SecureStore, wallClock: @escaping @Sendable () -> Date, configuredVIN: String?, logger: Logger) {
        self.store = store
        self.wallClock = wallClock
        self.configuredVIN = configuredVIN
        self.logger = logger
        snapshot = ProvisioningSnapshot(store: store, now: wallClock())
        logNewDamage()
    }

    /// Store and KeyM work on this store, to run in a `StoreJob` or at once.
    var work: StoreWork { StoreWork(store: store, wallClock: wallClock, logger: logger) }

    /// Re-reads the store after a change (a newly damaged entry is logged once).
    func refresh() {
        snapshot = ProvisioningSnapshot(store: store, now: wallClock())
        generation &+= 1
        logNewDamage()
    }

    /// Takes the store as a job re-read it (`nil`: the job changed nothing), unless the
    /// store was read since the job was submitted (`readAt`): then it is read once more.
    func adopt(_ fresh: ProvisioningSnapshot?, readAt: Int) {
        guard let fresh else { return }
        guard readAt == generation else { return refresh() }
        snapshot = fresh
        generation &+= 1
        logNewDamage()
    }

    /// A record's value; `nil` when absent or damaged (damage is logged, never used).
    func readRecord(_ record: SecureStoreRecord) -> [UInt8]? {
        do {
            return try store.read(record)
        } catch {
            logger.error("secure store: \(error)")
            return nil
        }
    }

    /// The VIN (fail-closed table): the stored one; the configured one while none is stored;
    /// none when the stored one is damaged (then 0xF190 answers 0x22, V2C messages go without).
    var vin: [UInt8]? {
        switch StoreReadings.value(store, .vin) {
        case .value(let vin): return vin
        case .missing: return configuredVIN.map { Array($0.utf8) }
        case .damaged(let reason):
            logger.error("secure store: the VIN is damaged (\(reason)): not used")
            return nil
        }
    }

    /// Logs each damaged entry once (at start, then when a re-read finds a new one).
    private func logNewDamage() {
        for entry in snapshot.damaged where !loggedDamage.contains(entry) {
            loggedDamage.insert(entry)
            logger.error("secure store: \(entry)")
        }
    }
}
