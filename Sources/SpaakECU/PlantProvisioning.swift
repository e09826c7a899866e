import KeyM
import SecureStore
import SpaakCore
import UDS

/// RP-01 and RP-02 (ICD 5.2, 5.4–5.6): the plant's writes and routines, and the routines
/// that start cloud use cases (0xD203, 0xF010, 0xF011).
///
/// Every write is checked before it touches the store (a failed check answers NRC 0x31 and
/// leaves the slot as it was); every store failure answers NRC 0x72; after the plant lock
/// (routine 0xD201) every plant write answers NRC 0x22, for good. The checks that need only
/// the cached snapshot (lock, VIN alphabet, preconditions of the lock) answer at once; the
/// KeyM checks, key generation and commits run as `StoreJob`s (`PlantStoreWork`), off the
/// event loop, with NRC 0x78 first when they are not done at once.
extension ModuleApplication {
    static let rootDIDs: [UInt16: (KeyMCertificateSlot, SecureStoreRecord)] = [
        0xD110: (.j, .rootJ), 0xD111: (.j1, .rootJ1), 0xD112: (.jPhysicalKey, .rootJPhysicalKey),
        0xD113: (.z1, .rootZ1), 0xD114: (.zz2, .rootZZ2),
    ]

    /// 0x2E: the VIN, the ECU identity certificate and the five roots.
    mutating func write(_ did: UInt16, _ data: [UInt8], token: RequestToken) -> ApplicationResult {
        guard !snapshot.plantLocked else {
            logger.warning("write of DID \(hex(did)) refused: plant provisioning is locked")
            return .negative(.conditionsNotCorrect)
        }
        let work = plantStoreWork
        switch did {
        case 0xF190:
            guard Self.isVIN(data) else {
                logger.warning("VIN write refused: not 17 VIN characters (A-Z without I, O, Q; 0-9)")
                return .negative(.requestOutOfRange)
            }
            let job = work.commitJob([.write(.vin, data, replacingCorrupt: true)], what: "VIN \(String(decoding: data, as: UTF8.self))")
            return runStoreJob(job, token: token)
        case 0xD101:
            return runStoreJob(work.writeCertificate(did: did, data, record: .ecuIdentityCertificate, slot: nil,
                                                     installed: snapshot.installed), token: token)
        default:
            guard let (slot, rootRecord) = Self.rootDIDs[did] else { return .negative(.requestOutOfRange) }
            return runStoreJob(work.writeCertificate(did: did, data, record: rootRecord, slot: slot,
                                                     installed: snapshot.installed), token: token)
        }
    }

    /// 0x31 for the routines of ICD 5.4 that the plant uses (0xD200–0xD202).
    mutating func routine(_ type: RoutineControlType, _ rid: UInt16, options: [UInt8], token: RequestToken,
                          now: Instant) -> ApplicationResult? {
        if type == .requestRoutineResults {
            if rid == 0xD202 { return .positive([0x00, 0x00] + snapshot.statuses.map(\.rawValue)) }
            guard let result = routineResults[rid] else { return .negative(.requestSequenceError) }
            return .positive(result)
        }
        guard type == .startRoutine else { return .negative(.subFunctionNotSupported) }
        switch rid {
        case 0xD200:
            guard !snapshot.plantLocked else { return .negative(.conditionsNotCorrect) }
            guard !deferred.contains(where: { $0.routine == rid }) else { return .negative(.conditionsNotCorrect) }
            if configuration.hsmLatency > .zero {
                routineResults[rid] = [0x01, 0x00]
                deferred.append(DeferredWork(deadline: now + configuration.hsmLatency, token: token, routine: rid))
                logger.info("RP-02: generating the ECU identity key pair (secure element busy \(configuration.hsmLatency))")
                return nil
            }
            routineResults[rid] = [0x01, 0x00]
            return runStoreJob(plantStoreWork.generateECUIdentity(), token: token)
        case 0xD201:
            return lockPlant(token: token)
        case 0xD202:
            return .positive(snapshot.statuses.map(\.rawValue))
        case 0xD203:
            routineResults[rid] = [0x01, 0x00]
            routineWaits[rid] = .pp01
            logger.info("owner change: deleting [K], subject id and verifier; PP-01 runs again")
            provisioning(.routine(.ownerChange), now: now)
            return .positive([0x00])
        case 0xF010:
            let waits = !snapshot.flags.contains(.spake2PlusVerifierPresent)
            routineResults[rid] = waits ? [0x01, 0x00] : [0x00, 0x00]
            if waits { routineWaits[rid] = .pp03 }
            logger.info("owner pairing started (simulated)\(waits ? ": no SPAKE2+ verifier, PP-03" : "")")
            provisioning(.routine(.ownerPairingStarted), now: now)
            return .positive([0x00])
        case 0xF011:
            routineResults[rid] = [0x00, 0x00]
            logger.info("owner pairing attempt failed (simulated)")
            provisioning(.routine(.ownerPairingFailed), now: now)
            return .positive([0x00])
        default:
            return .negative(.requestOutOfRange)
        }
    }

    /// 0xD201: needs every root, the ECU certificate and the VIN; then plant writes end.
    mutating func lockPlant(token: RequestToken) -> ApplicationResult {
        if snapshot.plantLocked { return .positive([0x00]) }
        var missing: [String] = []
        if !snapshot.flags.contains(.allRootCertificatesInstalled) { missing.append("root certificates") }
        if !snapshot.flags.contains(.ecuIdentityCertificateInstalled) { missing.append("ECU identity certificate") }
        if readRecord(.vin) == nil && configuration.vin == nil { missing.append("VIN") }
        guard missing.isEmpty else {
            logger.warning("plant lock refused: missing \(missing.joined(separator: ", "))")
            routineResults[0xD201] = [0x02, 0x00]
            return .negative(.conditionsNotCorrect)
        }
        var operations: [SecureStoreOperation] = [.write(.plantLock, [0x01], replacingCorrupt: true)]
        if readRecord(.vin) == nil, let vin = configuration.vin { operations.append(.write(.vin, Array(vin.utf8))) }
        routineResults[0xD201] = [0x01, 0x00]
        return runStoreJob(plantStoreWork.commitJob(operations, what: "plant lock", routine: 0xD201), token: token)
    }

    /// Applies store operations atomically; NRC 0x72 on failure.
    mutating func commit(_ operations: [SecureStoreOperation], what: String) -> ApplicationResult {
        defer { refresh() }
        return plantStoreWork.commit(operations, what: what)
    }

    /// 17 characters of the VIN alphabet (ISO 3779: digits and capitals except I, O, Q).
    static func isVIN(_ data: [UInt8]) -> Bool {
        data.count == 17 && data.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A && $0 != 0x49 && $0 != 0x4F && $0 != 0x51) }
    }
}

/// `0xD110`-style text for logs.
func hex(_ value: UInt16) -> String { "0x" + value.bigEndianBytes.hexString }
