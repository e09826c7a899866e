#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The persistent state of the Vehicle OEM Server: ECUs, vehicles, subject ids,
/// certificates, verifiers, pairing passwords, owner pairing, counters and the C2V outbox.
///
/// All access goes through `transaction`: the body sees a `CloudStore` and either every
/// change it made is kept (it returned) or none (it threw). Implementations:
/// `InMemoryCloudRepository` (tests), `GRDBCloudRepository` (SQLite, survives restarts) and
/// `PostgresCloudRepository` (target CloudPostgres: a fleet, several VOS instances; its
/// `transaction` may run `body` more than once after a serialization failure, so a body
/// must not have effects outside the store).
public protocol CloudRepository: AnyObject {
    /// Runs `body` atomically.
    func transaction<T>(_ body: (any CloudStore) throws -> T) throws -> T
}

/// The operations of one transaction on the VOS state. Lists come oldest first.
public protocol CloudStore {
    /// The ECU registered under `serial`.
    func ecu(serial: String) throws -> ECURecord?
    /// Registers or replaces an ECU.
    func saveECU(_ ecu: ECURecord) throws
    /// Every registered ECU, by serial.
    func ecus() throws -> [ECURecord]

    /// The vehicle of `serial`, if anything is known.
    func vehicle(serial: String) throws -> VehicleRecord?
    /// Inserts or replaces a vehicle.
    func saveVehicle(_ vehicle: VehicleRecord) throws

    /// The subject ids issued to `serial`.
    func subjectIds(serial: String) throws -> [SubjectIdRecord]
    /// `true` when `subjectId` was ever issued (to anyone).
    func subjectIdExists(_ subjectId: String) throws -> Bool
    /// Records a new subject id.
    func insertSubjectId(_ record: SubjectIdRecord) throws

    /// The [K] certificates issued to `serial`.
    func certificates(serial: String) throws -> [CertificateRecord]
    /// Records a new certificate; returns its id.
    func insertCertificate(_ record: CertificateRecord) throws -> Int64
    /// Updates a certificate by id.
    func updateCertificate(_ record: CertificateRecord) throws

    /// The verifiers made for `serial`.
    func verifiers(serial: String) throws -> [VerifierRecord]
    /// Records a new verifier; returns its id.
    func insertVerifier(_ record: VerifierRecord) throws -> Int64
    /// Updates a verifier by id.
    func updateVerifier(_ record: VerifierRecord) throws

    /// The pairing password of a verifier.
    func password(verifierId: Int64) throws -> PasswordRecord?
    /// Inserts or replaces the password of `record.verifierId`.
    func savePassword(_ record: PasswordRecord) throws

    /// Every pairing password of `serial`'s verifiers, oldest first.
    func passwords(serial: String) throws -> [PasswordRecord]

    /// The vehicles whose VIN is `vin` (normally one), by serial.
    func vehicles(vin: String) throws -> [VehicleRecord]

    /// The owner bound to `vin`.
    func owner(vin: String) throws -> VehicleOwnerRecord?
    /// The VINs bound to `user`, oldest binding first.
    func owners(user: String) throws -> [VehicleOwnerRecord]
    /// Binds a VIN to its owner (replacing an earlier binding of that VIN).
    func saveOwner(_ record: VehicleOwnerRecord) throws

    /// The deep link whose token hashes to `tokenHash`.
    func pairingLink(tokenHash: [UInt8]) throws -> PairingLinkRecord?
    /// The deep links made for the password of a verifier, oldest first.
    func pairingLinks(verifierId: Int64) throws -> [PairingLinkRecord]
    /// Inserts or replaces a deep link (by token hash).
    func savePairingLink(_ record: PairingLinkRecord) throws

    /// The hotline request `id`.
    func hotlineRequest(id: String) throws -> HotlineRequestRecord?
    /// Every hotline request, oldest first.
    func hotlineRequests() throws -> [HotlineRequestRecord]
    /// Inserts or replaces a hotline request (by id).
    func saveHotlineRequest(_ record: HotlineRequestRecord) throws

    /// The owner pairing record of `serial`, if anything is known.
    func ownerPairing(serial: String) throws -> OwnerPairingRecord?
    /// Inserts or replaces the owner pairing record of `record.serial`.
    func saveOwnerPairing(_ record: OwnerPairingRecord) throws

    /// A counter of `serial`.
    func counter(serial: String, kind: CounterKind) throws -> UInt32?
    /// Sets a counter of `serial`.
    func setCounter(serial: String, kind: CounterKind, value: UInt32) throws
    /// Forgets a counter of `serial`.
    func removeCounter(serial: String, kind: CounterKind) throws

    /// Queues a C2V push for `record.serial`'s TBM connection; returns its id.
    func enqueueC2V(_ record: C2VOutboxRecord) throws -> Int64
    /// The pushes queued for `serial`, oldest first.
    func pendingC2V(serial: String) throws -> [C2VOutboxRecord]
    /// Removes a queued push (no error when it is already gone).
    func deleteC2V(id: Int64) throws
    /// Tells the other VOS instances that `serial` has queued pushes: PostgreSQL sends
    /// `pg_notify('spaak_c2v', serial)` in the transaction (delivered at commit only, not at
    /// all on rollback); a repository of one process (SQLite, memory) does nothing.
    func announce(serial: String) throws
}

extension CloudStore {
    /// The newest verifier of `serial`.
    public func latestVerifier(serial: String) throws -> VerifierRecord? { try verifiers(serial: serial).last }

    /// The newest certificate of `serial`.
    public func latestCertificate(serial: String) throws -> CertificateRecord? { try certificates(serial: serial).last }

    /// The newest subject id of `serial`.
    public func latestSubjectId(serial: String) throws -> SubjectIdRecord? { try subjectIds(serial: serial).last }

    /// The vehicle with VIN `vin`: the one whose module was heard from last when several
    /// modules reported that VIN.
    public func vehicle(vin: String) throws -> VehicleRecord? {
        try vehicles(vin: vin).max { ($0.lastUseCase?.at ?? .distantPast) < ($1.lastUseCase?.at ?? .distantPast) }
    }

    /// The latest verifier of `serial` and its password, if any.
    public func currentPassword(serial: String) throws -> (verifier: VerifierRecord, password: PasswordRecord?)? {
        guard let verifier = try latestVerifier(serial: serial), let id = verifier.id else { return nil }
        return (verifier, try password(verifierId: id))
    }

    /// The lifecycle state of the password of `serial`'s current verifier: `none` without a
    /// current (unrevoked) verifier or without a password stored for it.
    public func currentPasswordState(serial: String) throws -> PasswordState {
        guard let current = try currentPassword(serial: serial), let password = current.password else { return .none }
        if current.verifier.revoked, !password.state.isDeliverable { return password.state }
        return current.verifier.revoked ? .none : password.state
    }

    /// The summary shown by `status`.
    public func summary() throws -> CloudSummary {
        var lines: [CloudSummary.ECULine] = []
        for ecu in try ecus() {
            let vehicle = try vehicle(serial: ecu.serial)
            let certificates = try certificates(serial: ecu.serial)
            let verifiers = try verifiers(serial: ecu.serial)
            let passwordState = try currentPasswordState(serial: ecu.serial)
            lines.append(CloudSummary.ECULine(
                serial: ecu.serial, vin: vehicle?.vin, drmUUID: vehicle?.drmUUID,
                subjectId: try latestSubjectId(serial: ecu.serial)?.subjectId,
                certificateStatus: certificates.last?.installStatus, certificates: certificates.count,
                verifierStatus: verifiers.last?.status, verifiers: verifiers.count, passwordPending: passwordState.isDeliverable,
                passwordState: passwordState, owner: try vehicle?.vin.flatMap { try owner(vin: $0) }?.user,
                v2cCounter: try counter(serial: ecu.serial, kind: .v2cAccepted),
                c2vCounter: try counter(serial: ecu.serial, kind: .c2vSent),
                ownerPairing: try ownerPairing(serial: ecu.serial)))
        }
        return CloudSummary(ecus: lines)
    }
}
