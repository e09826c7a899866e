import CloudProtocol
import Foundation
import KeyM
import Logging
import Provisioning
import SecureStore
import SpaakCore
import UDS

/// The glue between the provisioning machine (SP-02, PP-01, PP-02, PP-03) and the module:
/// verifies C2V messages (ICD 7.4) against the installed certificates, signs V2C messages
/// with the ECU identity key, keeps both counters in the store, and carries out the
/// machine's store and KeyM work.
extension ModuleApplication {
    /// The record that remembers an owed PP-03 and its reason across restarts.
    static var pendingVerifierRequest: SecureStoreRecord { StoreReadings.pendingVerifierRecord }

    /// How soon a failed store write that a use case owes is tried again (every loop turn:
    /// the cyclic `SPAAK_Status` turns the loop every 100 ms anyway).
    static let owedRetryInterval: Duration = .milliseconds(100)

    /// What the store holds, as the provisioning machine needs it after a (re)start, by the
    /// fail-closed table (`StoreReadings`).
    static func provisioningFacts(snapshot: ProvisioningSnapshot,
                                  configuration: ProvisioningConfiguration = ProvisioningConfiguration()) -> ProvisioningFacts {
        snapshot.readings.provisioningFacts(limit: configuration.failedPairingLimit,
                                            missingPreconditions: snapshot.missingCloudPreconditions)
    }

    /// Tells the machine when the preconditions of the cloud use cases change (after the
    /// plant lock, for example): it starts an owed use case once they hold.
    mutating func updateCloudPreconditions(now: Instant) {
        let missing = snapshot.missingCloudPreconditions
        guard missing != provisioningMachine.facts.missingPreconditions else { return }
        provisioning(.preconditionsChanged(missing: missing), now: now)
    }

    /// Feeds one input to the machine and carries out everything it asks for.
    mutating func provisioning(_ input: ProvisioningInput, now: Instant) {
        run(provisioningMachine.handle(input, now: now), now: now)
    }

    /// Feeds the results of finished store work to the machine (see `run`).
    mutating func deliverTaskResults(now: Instant) {
        let results = pendingTaskResults
        pendingTaskResults = []
        for result in results { run(provisioningMachine.handle(.taskCompleted(result), now: now), now: now) }
    }

    /// Verifies a message received on the C2V channel and hands it to the machine.
    mutating func receiveC2V(_ bytes: [UInt8], now: Instant) {
        let lastCounter: UInt32?
        switch StoreReadings(c2vCounterOf: store).lastC2VCounter {
        case .success(let counter): lastCounter = counter
        case .failure(let damage):
            c2vRejected += 1
            logger.error("C2V message refused: the C2V counter is \(damage); every C2V message is refused (replay cannot be excluded)")
            provisioning(.messageRejected(.storeFailure), now: now)
            return
        }
        let verdict = C2VVerifier.verify(bytes, expectation: provisioningMachine.expectation, lastCounter: lastCounter,
                                         serial: configuration.serial, trust: signerTrust)
        switch verdict {
        case .accepted(let message):
            do {
                try store.writeCounter(.c2vCounter, UInt64(message.counter))
            } catch {
                logger.error("C2V \(message.type) discarded: cannot keep its counter (\(error))")
                provisioning(.messageRejected(.storeFailure), now: now)
                return
            }
            logger.info("C2V \(message.type) \(message.useCase) counter \(message.counter) accepted")
            provisioning(.messageAccepted(message), now: now)
        case .rejected(let rule, let status, let reason):
            c2vRejected += 1
            logger.warning("C2V message discarded (\(rule), status \(status.rawValue)): \(reason)")
            provisioning(.messageRejected(status), now: now)
        }
    }

    /// ICD 7.4 trust: signer certificates chain to the installed [Z1]; [ZZ2] for the KTS.
    var signerTrust: ClosureSignerTrust {
        let installed = snapshot.installed
        let now = wallClock()
        return ClosureSignerTrust(
            publicKey: { der in
                do { return .success(try KeyMCertificate(der: der, name: "signer").publicKey) } catch {
                    return .failure(SignerTrustFailure(String(describing: error)))
                }
            },
            validate: { der in
                let result = KeyM.checkC2VSignerCertificate(der, installed: installed, now: now)
                return result.isValid ? .success(()) : .failure(SignerTrustFailure(result.description))
            },
            ownerKeyTerminationKey: {
                guard let der = installed[.zz2] else { return .failure(SignerTrustFailure("[ZZ2] is not installed")) }
                do { return .success(try KeyM.validate(der, slot: .zz2, installed: installed, now: now).publicKey) } catch {
                    return .failure(SignerTrustFailure(String(describing: error)))
                }
            })
    }

    /// Carries out the machine's actions in order. While a store write the machine asked for
    /// is owed (it failed), every later action but a log line is held, in order: the module
    /// neither sends, nor does store work, nor reports a use case as ended before what it
    /// owes is durable.
    mutating func run(_ actions: [ProvisioningAction], now: Instant) {
        var results: [ProvisioningTaskResult] = []
        for action in actions {
            if !owedCommits.isEmpty {
                if case .log = action {} else {
                    heldActions.append(action)
                    continue
                }
            }
            switch action {
            case .send(let request): sendV2C(request)
            case .perform(let task): results.append(perform(task))
            case .persist(let operations): persist(operations, now: now)
            case .statusChanged(let status): provisioningStatus = status
            case .useCaseEnded(let useCase, let status): useCaseEnded(useCase, status)
            case .log(.debug, let text): logger.debug("\(text)")
            case .log(.info, let text): logger.info("\(text)")
            case .log(.warning, let text): logger.warning("\(text)")
            }
        }
        // Store and KeyM work takes time (fsync, key generation): its results go back to the
        // machine on the next turn of the event loop, with a fresh `now`, so that timers of
        // the next step (N_Bs, the 5 s retry) never start in the past.
        pendingTaskResults += results
    }

    private mutating func sendV2C(_ request: V2CRequest) {
        do {
            let counter = try store.incrementCounter(.v2cCounter)
            let vin = storedVIN.map { String(decoding: $0, as: UTF8.self) }
            let store = self.store
            let bytes = try SpaakRequest.build(
                serial: configuration.serial, vin: vin, transactionID: request.transactionID,
                counter: UInt32(truncatingIfNeeded: counter), useCase: request.useCase, payload: request.payload,
                signer: { try store.sign(.ecuIdentity, message: $0) })
            logger.info("V2C \(request) counter \(counter)")
            outgoingV2C.append(bytes)
        } catch {
            logger.error("V2C \(request.type) not sent: \(error)")
        }
    }

    private mutating func perform(_ task: ProvisioningTask) -> ProvisioningTaskResult {
        switch task {
        case .storeDrmUUID(let uuid):
            return .drmUUIDStored(success: isDone(commit([.write(.drmUUID, uuid, replacingCorrupt: true)], what: "drmUUID")))
        case .storeSubjectID(let subject):
            return .subjectIDStored(success: isDone(commit([.write(.subjectID, Array(subject.utf8), replacingCorrupt: true)],
                                                          what: "subject id \(subject)")))
        case .generateVehicleKeyPair:
            return .vehicleKeyPairGenerated(success: isDone(commit([.generateKey(.vehicleIdentityPending)],
                                                                  what: "new vehicle identity key pair")))
        case .makeVehicleCSR(let commonName):
            do {
                return .vehicleCSRMade(try store.makeCSR(.vehicleIdentityPending, commonName: commonName))
            } catch {
                logger.error("PP-01: vehicle CSR failed: \(error)")
                return .vehicleCSRMade(nil)
            }
        case .checkVehicleCertificate(let der):
            let key = try? store.publicKey(.vehicleIdentityPending)
            let check = KeyM.checkVehicleIdentityCertificate(der, publicKey: key, installed: snapshot.installed, now: wallClock())
            if !check.isValid { logger.warning("PP-01: [K] refused: \(check)") }
            switch check.status {
            case .valid: return .vehicleCertificateChecked(.ok)
            case .invalidFormat: return .vehicleCertificateChecked(.malformed)
            case .invalid: return .vehicleCertificateChecked(.certificateKeyMismatch)
            default: return .vehicleCertificateChecked(.chainOfTrustInvalid)
            }
        case .installVehicleCertificate(let der):
            return .vehicleCertificateInstalled(success: isDone(commit(
                [.promotePendingKey(.vehicleIdentity), .write(.vehicleIdentityCertificate, der, replacingCorrupt: true)],
                what: "vehicle identity certificate [K] with its key")))
        case .storeVerifier(let record, let along):
            return .verifierStored(success: isDone(commit(
                [.write(.spake2Verifier, record.bytes, replacingCorrupt: true)] + along.flatMap(Self.storeOperations),
                what: "SPAKE2+ verifier")))
        }
    }

    /// A store change the machine counts on (verifier deleted, PP-03 owed, failed pairings):
    /// when it fails it is owed, retried every loop turn and shown in D120, never dropped.
    private mutating func persist(_ operations: [ProvisioningStoreOperation], now: Instant) {
        let what = operations.map { "\($0)" }.joined(separator: ", ")
        var owed = OwedCommit(operations: operations.flatMap(Self.storeOperations), what: what)
        do {
            try store.commit(owed.operations)
            logger.info("stored \(what)")
        } catch {
            logger.error("secure store: writing \(what) failed: \(error); owed: retried every \(Self.owedRetryInterval), cloud work waits for it")
            owed.lastError = "\(error)"
            owedCommits.append(owed)
            owedRetryAt = now + Self.owedRetryInterval
        }
        refresh()
    }

    /// Tries the owed store writes again, in order; once none is owed, the held actions run.
    mutating func retryOwedCommits(now: Instant) {
        guard !owedCommits.isEmpty, let due = owedRetryAt, due <= now else { return }
        while let owed = owedCommits.first {
            do {
                try store.commit(owed.operations)
            } catch {
                if owedCommits[0].lastError != "\(error)" {
                    owedCommits[0].lastError = "\(error)"
                    logger.error("secure store: owed \(owed.what) still not stored: \(error)")
                }
                owedRetryAt = now + Self.owedRetryInterval
                return
            }
            owedCommits.removeFirst()
            logger.info("stored \(owed.what) (was owed)")
        }
        owedRetryAt = nil
        refresh()
        for rid in owedRoutines where routineWaits[rid] == nil { routineResults[rid] = [0x00, 0x00] }
        owedRoutines = []
        let held = heldActions
        heldActions = []
        run(held, now: now)
    }

    /// Store writes of the machine that are not durable yet: owed, or held behind one.
    var owedWrites: Int {
        owedCommits.count + heldActions.filter { if case .persist = $0 { return true } else { return false } }.count
    }

    /// The answer to a routine that started cloud work (0xD203, 0xF010, 0xF011): positive only
    /// when the store writes it caused are durable; else NRC 0x72, the result "running" until
    /// they are (`owedBefore`: `owedWrites` before the routine ran).
    mutating func durableAnswer(_ result: ApplicationResult?, _ type: RoutineControlType, routine rid: UInt16,
                                owedBefore: Int) -> ApplicationResult? {
        guard type == .startRoutine, [0xD203, 0xF010, 0xF011].contains(rid), case .positive? = result,
              owedWrites > owedBefore else { return result }
        routineResults[rid] = [0x01, 0x00]
        owedRoutines.insert(rid)
        logger.warning("routine \(hex(rid)): its store write is owed, answered 0x72 until it is stored")
        return .negative(.generalProgrammingFailure)
    }

    static func storeOperations(_ operation: ProvisioningStoreOperation) -> [SecureStoreOperation] {
        switch operation {
        case .deleteVehicleIdentity:
            return [.delete(.vehicleIdentityCertificate), .deleteKey(.vehicleIdentity), .deleteKey(.vehicleIdentityPending),
                    .delete(.subjectID)]
        case .deleteVerifier:
            return [.delete(.spake2Verifier)]
        case .setFailedPairingAttempts(let count):
            return [.write(.ownerPairingFailures, UInt64(count).bigEndianBytes, replacingCorrupt: true)]
        case .setPendingVerifierRequest(let reason?):
            return [.write(pendingVerifierRequest, [reason.rawValue], replacingCorrupt: true)]
        case .setPendingVerifierRequest(nil):
            return [.delete(pendingVerifierRequest)]
        }
    }

    private mutating func useCaseEnded(_ useCase: UseCase, _ status: CloudStatus) {
        if status == .ok {
            logger.info("\(useCase) completed")
        } else {
            logger.warning("\(useCase) failed with error \(status.rawValue) (\(status))")
        }
        let result: [UInt8] = [status == .ok ? 0x00 : 0x02, status.rawValue]
        for (rid, waiting) in routineWaits where waiting == useCase {
            routineResults[rid] = result
            routineWaits[rid] = nil
        }
    }

    private func isDone(_ result: ApplicationResult) -> Bool {
        if case .positive = result { return true }
        return false
    }
}

/// A store commit a use case owes: it failed and is retried until it succeeds.
struct OwedCommit {
    var operations: [SecureStoreOperation]
    var what: String
    var lastError = ""
}

extension StoreReadings {
    /// Reads only `counter-c2v` (before every C2V message: it changes with each).
    init(c2vCounterOf store: any SecureStore) {
        self.init()
        c2vCounter = Self.counter(store, .c2vCounter)
    }
}

extension ModuleApplication {
    /// The VIN (fail-closed table): the stored one; the configured one while none is stored;
    /// none when the stored one is damaged (then 0xF190 answers 0x22, V2C messages go without).
    var storedVIN: [UInt8]? {
        switch StoreReadings.value(store, .vin) {
        case .value(let vin): return vin
        case .missing: return configuration.vin.map { Array($0.utf8) }
        case .damaged(let reason):
            logger.error("secure store: the VIN is damaged (\(reason)): not used")
            return nil
        }
    }

    /// Logs each damaged entry once (at start, then when a refresh finds a new one).
    mutating func logNewDamage() {
        for entry in snapshot.damaged where !loggedDamage.contains(entry) {
            loggedDamage.insert(entry)
            logger.error("secure store: \(entry)")
        }
    }
}
