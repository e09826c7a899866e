import KeyM
import SecureStore
import SpaakCore
import UDS

/// RP-01 and RP-02 (ICD 5.2, 5.4–5.6): the plant's writes and routines 0xD200–0xD202.
///
/// Every write is checked before it touches the store (a failed check answers NRC 0x31 and
/// leaves the slot as it was); every store failure answers NRC 0x72; after the plant lock
/// (routine 0xD201) every plant write answers NRC 0x22, for good. The checks that need only
/// the cached snapshot (lock, VIN alphabet, preconditions of the lock) answer at once; the
/// KeyM checks, key generation and commits run as `StoreJob`s (`PlantStoreWork`).
extension DiagnosticApplication {
    /// The KeyM slot and store record behind each root DID (ICD 5.5).
    static let rootSlots: [DataIdentifier: (slot: KeyMCertificateSlot, record: SecureStoreRecord)] = [
        .rootJ: (.j, .rootJ), .rootJ1: (.j1, .rootJ1), .rootJPhysicalKey: (.jPhysicalKey, .rootJPhysicalKey),
        .rootZ1: (.z1, .rootZ1), .rootZZ2: (.zz2, .rootZZ2),
    ]

    /// 0x2E: the VIN, the ECU identity certificate and the five roots.
    func write(_ did: DataIdentifier, _ data: [UInt8], token: RequestToken) -> ApplicationResult {
        let snapshot = storeView.snapshot
        guard !snapshot.plantLocked else {
            logger.warning("write of DID \(did) refused: plant provisioning is locked")
            return .negative(.conditionsNotCorrect)
        }
        let work = storeView.work
        switch did {
        case .vin:
            guard Self.isVIN(data) else {
                logger.warning("VIN write refused: not 17 VIN characters (A-Z without I, O, Q; 0-9)")
                return .negative(.requestOutOfRange)
            }
            return run(work.commitJob([.write(.vin, data, replacingCorrupt: true)],
                                      what: "VIN \(String(decoding: data, as: UTF8.self))"), token: token)
        case .ecuIdentityCertificate:
            return run(work.writeCertificate(did: did, data, record: .ecuIdentityCertificate, slot: nil,
                                             installed: snapshot.installed), token: token)
        case .rootJ, .rootJ1, .rootJPhysicalKey, .rootZ1, .rootZZ2:
            let (slot, record) = Self.rootSlots[did]!
            return run(work.writeCertificate(did: did, data, record: record, slot: slot, installed: snapshot.installed),
                       token: token)
        case .ecuSerialNumber, .softwareVersion, .ecuIdentityCSR, .provisioningStatus, .vehicleIdentityCertificate,
             .drmUUID, .spake2VerifierMetadata, .ownerPairingStatus, .ownerEndpointPublicKey, .canBusDiagnostics:
            return .negative(.requestOutOfRange)    // not writable (the server's table says so first)
        }
    }

    /// 0x31 for the plant's routines; `nil` when the answer comes later.
    func routine(_ type: RoutineControlType, _ routine: PlantRoutine, token: RequestToken, now: Instant,
                 status: ModuleStatus) -> ApplicationResult? {
        if type == .requestRoutineResults, routine == .checkCertificates {
            return .positive(RoutineResult.done.record + status.certificateStatusBytes)
        }
        if let answer = RoutineResult.answer(to: type, latest: routineResults[routine]) { return answer }
        switch routine {
        case .generateECUIdentityKeyPair:
            guard !storeView.snapshot.plantLocked, keyGeneration == nil else { return .negative(.conditionsNotCorrect) }
            routineResults[routine] = .running
            if configuration.hsmLatency > .zero {
                keyGeneration = (now + configuration.hsmLatency, token)
                logger.info("RP-02: generating the ECU identity key pair (secure element busy \(configuration.hsmLatency))")
                return nil
            }
            return run(storeView.work.generateECUIdentity(serial: configuration.serial), token: token, routine: routine)
        case .lockPlantProvisioning:
            return lockPlant(token: token)
        case .checkCertificates:
            return .positive(status.certificateStatusBytes)
        }
    }

    /// 0xD201: needs every root, the ECU certificate and the VIN; then plant writes end.
    private func lockPlant(token: RequestToken) -> ApplicationResult {
        let snapshot = storeView.snapshot
        if snapshot.plantLocked { return .positive([0x00]) }
        var missing: [String] = []
        if !snapshot.flags.contains(.allRootCertificatesInstalled) { missing.append("root certificates") }
        if !snapshot.flags.contains(.ecuIdentityCertificateInstalled) { missing.append("ECU identity certificate") }
        let storedVIN = storeView.readRecord(.vin)
        if storedVIN == nil && configuration.vin == nil { missing.append("VIN") }
        guard missing.isEmpty else {
            logger.warning("plant lock refused: missing \(missing.joined(separator: ", "))")
            routineResults[.lockPlantProvisioning] = .failed(0x00)
            return .negative(.conditionsNotCorrect)
        }
        var operations: [SecureStoreOperation] = [.write(.plantLock, [0x01], replacingCorrupt: true)]
        if storedVIN == nil, let vin = configuration.vin { operations.append(.write(.vin, Array(vin.utf8))) }
        routineResults[.lockPlantProvisioning] = .running
        return run(storeView.work.commitJob(operations, what: "plant lock"), token: token, routine: .lockPlantProvisioning)
    }

    /// 17 characters of the VIN alphabet (ISO 3779: digits and capitals except I, O, Q).
    static func isVIN(_ data: [UInt8]) -> Bool {
        data.count == 17 && data.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A && $0 != 0x49 && $0 != 0x4F && $0 != 0x51) }
    }
}
