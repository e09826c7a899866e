#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A `CloudRepository` in memory, for tests: a transaction works on a copy of the state
/// that replaces the state only when the body returns.
public final class InMemoryCloudRepository: CloudRepository {
    /// The whole state as plain values.
    public struct State: Sendable, Equatable {
        var ecus: [String: ECURecord] = [:]
        var vehicles: [String: VehicleRecord] = [:]
        var subjectIds: [SubjectIdRecord] = []
        var certificates: [CertificateRecord] = []
        var verifiers: [VerifierRecord] = []
        var passwords: [Int64: PasswordRecord] = [:]
        var ownerPairings: [String: OwnerPairingRecord] = [:]
        var owners: [String: VehicleOwnerRecord] = [:]
        /// Bindings in the order they were made (a replaced binding moves to the end).
        var ownerOrder: [String] = []
        var pairingLinks: [PairingLinkRecord] = []
        var hotlineRequests: [HotlineRequestRecord] = []
        var counters: [String: UInt32] = [:]
        var outbox: [C2VOutboxRecord] = []
        var nextId: Int64 = 1
    }

    /// The committed state.
    public private(set) var state = State()

    /// Creates an empty repository.
    public init() {}

    /// Runs `body` on a copy of the state and commits the copy if `body` returns.
    public func transaction<T>(_ body: (any CloudStore) throws -> T) throws -> T {
        let store = Store(state: state)
        let result = try body(store)
        state = store.state
        return result
    }

    private final class Store: CloudStore {
        var state: State
        init(state: State) { self.state = state }

        func ecu(serial: String) -> ECURecord? { state.ecus[serial] }
        func saveECU(_ ecu: ECURecord) { state.ecus[ecu.serial] = ecu }
        func ecus() -> [ECURecord] { state.ecus.values.sorted { $0.serial < $1.serial } }

        func vehicle(serial: String) -> VehicleRecord? { state.vehicles[serial] }
        func saveVehicle(_ vehicle: VehicleRecord) { state.vehicles[vehicle.serial] = vehicle }

        func subjectIds(serial: String) -> [SubjectIdRecord] { state.subjectIds.filter { $0.serial == serial } }
        func subjectIdExists(_ subjectId: String) -> Bool { state.subjectIds.contains { $0.subjectId == subjectId } }
        func insertSubjectId(_ record: SubjectIdRecord) throws {
            guard !subjectIdExists(record.subjectId) else { throw CloudRepositoryError.duplicate("subject id \(record.subjectId)") }
            state.subjectIds.append(record)
        }

        func certificates(serial: String) -> [CertificateRecord] { state.certificates.filter { $0.serial == serial } }
        func insertCertificate(_ record: CertificateRecord) -> Int64 { insert(record, into: \.certificates) }
        func updateCertificate(_ record: CertificateRecord) throws { try update(record, in: \.certificates, "certificate") }

        func verifiers(serial: String) -> [VerifierRecord] { state.verifiers.filter { $0.serial == serial } }
        func insertVerifier(_ record: VerifierRecord) -> Int64 { insert(record, into: \.verifiers) }
        func updateVerifier(_ record: VerifierRecord) throws { try update(record, in: \.verifiers, "verifier") }

        /// Appends `record` to `table` with the next id; returns the id.
        private func insert<Record: NumberedRecord>(_ record: Record, into table: WritableKeyPath<State, [Record]>) -> Int64 {
            var record = record
            record.id = takeId()
            state[keyPath: table].append(record)
            return record.id ?? 0
        }

        /// Replaces the record of `table` with the same id; `.notFound` naming `what` if none.
        private func update<Record: NumberedRecord>(_ record: Record, in table: WritableKeyPath<State, [Record]>,
                                                    _ what: String) throws {
            guard let index = state[keyPath: table].firstIndex(where: { $0.id == record.id }) else {
                throw CloudRepositoryError.notFound("\(what) \(record.id.map(String.init) ?? "nil")")
            }
            state[keyPath: table][index] = record
        }

        func password(verifierId: Int64) -> PasswordRecord? { state.passwords[verifierId] }
        func savePassword(_ record: PasswordRecord) { state.passwords[record.verifierId] = record }

        func passwords(serial: String) -> [PasswordRecord] {
            state.passwords.values.filter { $0.serial == serial }.sorted { $0.verifierId < $1.verifierId }
        }

        func vehicles(vin: String) -> [VehicleRecord] {
            state.vehicles.values.filter { $0.vin == vin }.sorted { $0.serial < $1.serial }
        }

        func owner(vin: String) -> VehicleOwnerRecord? { state.owners[vin] }
        func owners(user: String) -> [VehicleOwnerRecord] {
            state.ownerOrder.compactMap { state.owners[$0] }.filter { $0.user == user }
        }
        func saveOwner(_ record: VehicleOwnerRecord) {
            state.owners[record.vin] = record
            state.ownerOrder.removeAll { $0 == record.vin }
            state.ownerOrder.append(record.vin)
        }

        func pairingLink(tokenHash: [UInt8]) -> PairingLinkRecord? { state.pairingLinks.first { $0.tokenHash == tokenHash } }
        func pairingLinks(verifierId: Int64) -> [PairingLinkRecord] { state.pairingLinks.filter { $0.verifierId == verifierId } }
        func savePairingLink(_ record: PairingLinkRecord) {
            if let index = state.pairingLinks.firstIndex(where: { $0.tokenHash == record.tokenHash }) {
                state.pairingLinks[index] = record
            } else {
                state.pairingLinks.append(record)
            }
        }

        func hotlineRequest(id: String) -> HotlineRequestRecord? { state.hotlineRequests.first { $0.id == id } }
        func hotlineRequests() -> [HotlineRequestRecord] { state.hotlineRequests }
        func saveHotlineRequest(_ record: HotlineRequestRecord) {
            if let index = state.hotlineRequests.firstIndex(where: { $0.id == record.id }) {
                state.hotlineRequests[index] = record
            } else {
                state.hotlineRequests.append(record)
            }
        }

        func ownerPairing(serial: String) -> OwnerPairingRecord? { state.ownerPairings[serial] }
        func saveOwnerPairing(_ record: OwnerPairingRecord) { state.ownerPairings[record.serial] = record }

        func counter(serial: String, kind: CounterKind) -> UInt32? { state.counters["\(kind.rawValue) \(serial)"] }
        func setCounter(serial: String, kind: CounterKind, value: UInt32) { state.counters["\(kind.rawValue) \(serial)"] = value }
        func removeCounter(serial: String, kind: CounterKind) { state.counters["\(kind.rawValue) \(serial)"] = nil }

        func enqueueC2V(_ record: C2VOutboxRecord) -> Int64 {
            var record = record
            record.id = takeId()
            state.outbox.append(record)
            return record.id ?? 0
        }
        func pendingC2V(serial: String) -> [C2VOutboxRecord] { state.outbox.filter { $0.serial == serial } }
        func deleteC2V(id: Int64) { state.outbox.removeAll { $0.id == id } }
        /// One process: nobody to tell.
        func announce(serial: String) {}

        private func takeId() -> Int64 {
            defer { state.nextId += 1 }
            return state.nextId
        }
    }
}

/// A failure of a repository.
public enum CloudRepositoryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A unique value already exists.
    case duplicate(String)
    /// The row to update does not exist.
    case notFound(String)
    /// The database could not be opened, migrated or written (the underlying message).
    case database(String)

    /// Text for logs.
    public var description: String {
        switch self {
        case .duplicate(let what): return "\(what) already exists"
        case .notFound(let what): return "\(what) not found"
        case .database(let message): return "database: \(message)"
        }
    }
}

/// A record the repository numbers when it is inserted.
protocol NumberedRecord {
    /// The number; `nil` until inserted.
    var id: Int64? { get set }
}

extension CertificateRecord: NumberedRecord {}
extension VerifierRecord: NumberedRecord {}
