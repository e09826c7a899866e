import CloudSimulator
import Foundation

/// A `CloudRepository` decorator for `bench-backend`: counts the transactions and, inside
/// them, the reads and the writes (every `save…`, `insert…`, `update…`, `set…`, `remove…`,
/// `enqueue…`, `delete…`, `announce` call) that the VOS makes, so that the cost of one
/// vehicle for the database can be stated in statements, not guessed.
final class CountingCloudRepository: CloudRepository {
    /// What was counted.
    struct Counts: Equatable {
        var transactions = 0
        var reads = 0
        var writes = 0
    }

    let base: any CloudRepository
    private(set) var counts = Counts()

    init(_ base: any CloudRepository) { self.base = base }

    func transaction<T>(_ body: (any CloudStore) throws -> T) throws -> T {
        counts.transactions += 1
        return try base.transaction { store in try body(CountingCloudStore(base: store, owner: self)) }
    }

    fileprivate func read() { counts.reads += 1 }
    fileprivate func wrote() { counts.writes += 1 }
}

/// The store seen inside one counted transaction: every call forwarded, counted as a read or a write.
private struct CountingCloudStore: CloudStore {
    let base: any CloudStore
    let owner: CountingCloudRepository

    private func r<T>(_ call: () throws -> T) rethrows -> T { owner.read(); return try call() }
    private func w<T>(_ call: () throws -> T) rethrows -> T { owner.wrote(); return try call() }

    func ecu(serial: String) throws -> ECURecord? { try r { try base.ecu(serial: serial) } }
    func saveECU(_ ecu: ECURecord) throws { try w { try base.saveECU(ecu) } }
    func ecus() throws -> [ECURecord] { try r { try base.ecus() } }
    func vehicle(serial: String) throws -> VehicleRecord? { try r { try base.vehicle(serial: serial) } }
    func saveVehicle(_ vehicle: VehicleRecord) throws { try w { try base.saveVehicle(vehicle) } }
    func subjectIds(serial: String) throws -> [SubjectIdRecord] { try r { try base.subjectIds(serial: serial) } }
    func subjectIdExists(_ subjectId: String) throws -> Bool { try r { try base.subjectIdExists(subjectId) } }
    func insertSubjectId(_ record: SubjectIdRecord) throws { try w { try base.insertSubjectId(record) } }
    func certificates(serial: String) throws -> [CertificateRecord] { try r { try base.certificates(serial: serial) } }
    func insertCertificate(_ record: CertificateRecord) throws -> Int64 { try w { try base.insertCertificate(record) } }
    func updateCertificate(_ record: CertificateRecord) throws { try w { try base.updateCertificate(record) } }
    func verifiers(serial: String) throws -> [VerifierRecord] { try r { try base.verifiers(serial: serial) } }
    func insertVerifier(_ record: VerifierRecord) throws -> Int64 { try w { try base.insertVerifier(record) } }
    func updateVerifier(_ record: VerifierRecord) throws { try w { try base.updateVerifier(record) } }
    func password(verifierId: Int64) throws -> PasswordRecord? { try r { try base.password(verifierId: verifierId) } }
    func savePassword(_ record: PasswordRecord) throws { try w { try base.savePassword(record) } }
    func passwords(serial: String) throws -> [PasswordRecord] { try r { try base.passwords(serial: serial) } }
    func vehicles(vin: String) throws -> [VehicleRecord] { try r { try base.vehicles(vin: vin) } }
    func owner(vin: String) throws -> VehicleOwnerRecord? { try r { try base.owner(vin: vin) } }
    func owners(user: String) throws -> [VehicleOwnerRecord] { try r { try base.owners(user: user) } }
    func saveOwner(_ record: VehicleOwnerRecord) throws { try w { try base.saveOwner(record) } }
    func pairingLink(tokenHash: [UInt8]) throws -> PairingLinkRecord? { try r { try base.pairingLink(tokenHash: tokenHash) } }
    func pairingLinks(verifierId: Int64) throws -> [PairingLinkRecord] { try r { try base.pairingLinks(verifierId: verifierId) } }
    func savePairingLink(_ record: PairingLinkRecord) throws { try w { try base.savePairingLink(record) } }
    func hotlineRequest(id: String) throws -> HotlineRequestRecord? { try r { try base.hotlineRequest(id: id) } }
    func hotlineRequests() throws -> [HotlineRequestRecord] { try r { try base.hotlineRequests() } }
    func saveHotlineRequest(_ record: HotlineRequestRecord) throws { try w { try base.saveHotlineRequest(record) } }
    func ownerPairing(serial: String) throws -> OwnerPairingRecord? { try r { try base.ownerPairing(serial: serial) } }
    func saveOwnerPairing(_ record: OwnerPairingRecord) throws { try w { try base.saveOwnerPairing(record) } }
    func counter(serial: String, kind: CounterKind) throws -> UInt32? { try r { try base.counter(serial: serial, kind: kind) } }
    func setCounter(serial: String, kind: CounterKind, value: UInt32) throws { try w { try base.setCounter(serial: serial, kind: kind, value: value) } }
    func removeCounter(serial: String, kind: CounterKind) throws { try w { try base.removeCounter(serial: serial, kind: kind) } }
    func enqueueC2V(_ record: C2VOutboxRecord) throws -> Int64 { try w { try base.enqueueC2V(record) } }
    func pendingC2V(serial: String) throws -> [C2VOutboxRecord] { try r { try base.pendingC2V(serial: serial) } }
    func deleteC2V(id: Int64) throws { try w { try base.deleteC2V(id: id) } }
    func announce(serial: String) throws { try w { try base.announce(serial: serial) } }
}
