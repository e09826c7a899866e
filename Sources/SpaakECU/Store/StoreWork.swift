#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import SecureStore

/// Why store work did not happen. A store outcome, not a UDS one: the diagnostic
/// application maps it to an NRC at the UDS boundary (`NegativeResponseCode(_:)`), the
/// provisioning glue to a task result.
enum StoreWorkError: Error, Equatable, Sendable {
    /// KeyM refused the certificate (ICD 5.5, 5.6): nothing was written.
    case certificateRefused
    /// The store failed the commit or the key generation: nothing changed.
    case storeFailure
}

/// The outcome of store work: done, or why not.
typealias StoreWorkResult = Result<Void, StoreWorkError>

/// Store and KeyM work (checks, key generation, commits with their fsyncs, re-reading the
/// store) that may run off the event loop in a `StoreJob`: it holds copies of what it
/// needs and touches no module state. Plant work: `PlantStoreWork.swift`; the cloud use
/// cases' tasks: `ProvisioningStoreWork.swift`.
struct StoreWork: Sendable {
    let store: any SecureStore
    let wallClock: @Sendable () -> Date
    let logger: Logger

    /// Applies store operations atomically (logged either way).
    func commit(_ operations: [SecureStoreOperation], what: String) -> StoreWorkResult {
        do {
            try store.commit(operations)
        } catch {
            logger.error("secure store: writing \(what) failed: \(error)")
            return .failure(.storeFailure)
        }
        logger.info("stored \(what)")
        return .success(())
    }

    /// A job named `name` doing `body`; with `rereadsStore` its outcome carries the store as
    /// it is afterwards (after a failure too: the store may have changed).
    func job(_ name: String, rereadsStore: Bool = true, _ body: @escaping @Sendable () -> StoreJobProduct) -> StoreJob {
        StoreJob(name: name) { [self] in
            let product = body()
            return StoreJobOutcome(product: product,
                                   snapshot: rereadsStore ? ProvisioningSnapshot(store: store, now: wallClock()) : nil)
        }
    }
}
