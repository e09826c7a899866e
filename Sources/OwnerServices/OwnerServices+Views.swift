import CloudProtocol
import CloudSimulator
import Foundation
import SpaakCore

/// The vehicle and fleet views.
extension OwnerServices {
    /// The caller's vehicles (owner, portal), oldest binding first. A VIN the VOS has not
    /// heard from yet is not listed (the view needs its module).
    public func vehicles(caller: Caller) throws(OwnerServiceError) -> VehicleList {
        try Self.requireRole(caller, [.owner, .portal], "list own vehicles")
        return try transaction { store in
            var views: [VehicleView] = []
            for owner in try store.owners(user: caller.user) {
                guard let vehicle = try store.vehicle(vin: owner.vin) else { continue }
                views.append(try Self.view(serial: vehicle.serial, store: store))
            }
            return VehicleList(vehicles: views)
        }
    }

    /// One vehicle: its owner (owner, portal) or any owned or not (hotline).
    public func vehicle(vin: String, caller: Caller) throws(OwnerServiceError) -> VehicleView {
        try Self.requireRole(caller, [.owner, .portal, .hotline], "see a vehicle")
        try Self.requireVIN(vin)
        return try transaction { store in
            if caller.role != .hotline { _ = try Self.requireOwner(vin: vin, caller: caller, store: store) }
            let vehicle = try Self.requireVehicle(vin: vin, store: store)
            return try Self.view(serial: vehicle.serial, store: store)
        }
    }

    /// Every ECU the VOS knows, by serial (hotline).
    public func fleet(caller: Caller) throws(OwnerServiceError) -> FleetView {
        try Self.requireRole(caller, [.hotline], "see the fleet")
        return try transaction { store in
            let views = try store.ecus().map { try Self.view(serial: $0.serial, store: store) }
            return FleetView(vehicles: views)
        }
    }

    /// The view of the module `serial`.
    static func view(serial: String, store: any CloudStore) throws -> VehicleView {
        guard let ecu = try store.ecu(serial: serial) else {
            throw OwnerServiceError(.unknownVehicle, "unknown ECU \(serial)")
        }
        let vehicle = try store.vehicle(serial: serial)
        let owner = try vehicle?.vin.flatMap { try store.owner(vin: $0) }
        let certificates = try store.certificates(serial: serial)
        let verifiers = try store.verifiers(serial: serial)
        let current = try store.currentPassword(serial: serial)
        let provisioning = try Provisioning(serial: serial, store: store)
        let passwordState = try store.currentPasswordState(serial: serial)
        let password = current?.password
        let last = vehicle?.lastUseCase
        return VehicleView(
            serial: serial, vin: vehicle?.vin, owner: owner?.user,
            plant: .init(ecuRegisteredAt: ecu.registeredAt),
            drmUUID: vehicle?.drmUUID?.hexString,
            vehicleIdentity: .init(state: identityState(certificates.last), certificates: certificates.count,
                                   status: certificates.last?.installStatus.map(Int.init)),
            verifier: .init(state: verifierState(verifiers.last, password: password), count: verifiers.count,
                            status: verifiers.last?.status.map(Int.init)),
            password: .init(state: passwordState,
                            channel: passwordState == .none ? nil : password?.channel.flatMap { DeliveryChannel(rawValue: $0.rawValue) },
                            deliveredAt: passwordState == .none ? nil : password?.deliveredAt),
            ownerPairing: ownerPairingView(try store.ownerPairing(serial: serial)),
            serviceProvisioned: provisioning.missing.isEmpty,
            lastUseCase: last.map {
                .init(useCase: $0.useCase, message: $0.message, at: $0.at, outcome: $0.accepted ? .accepted : .refused, error: $0.error)
            })
    }

    private static func identityState(_ certificate: CertificateRecord?) -> VehicleView.VehicleIdentity.State {
        guard let certificate else { return .none }
        guard let status = certificate.installStatus else { return .issued }
        return status == CloudStatus.ok.rawValue ? .installed : .failed
    }

    private static func verifierState(_ verifier: VerifierRecord?, password: PasswordRecord?) -> VehicleView.Verifier.State {
        guard let verifier else { return .none }
        if verifier.revoked { return .revoked }
        if password?.endReason == .paired { return .consumed }
        guard let status = verifier.status else { return .sent }
        return status == CloudStatus.ok.rawValue ? .installed : .failed
    }

    /// The vehicle's last 0x0D report, unless the KTS terminated its key since: the module
    /// deletes a terminated key without a new report (ICD 8.5), so the VOS shows no key then.
    private static func ownerPairingView(_ record: OwnerPairingRecord?) -> VehicleView.OwnerPairing {
        var state: VehicleView.OwnerPairing.State
        switch record?.state.flatMap(OwnerPairingState.init(rawValue:)) {
        case nil: state = .unknown
        case .noOwnerKey?: state = .noOwnerKey
        case .windowOpen?: state = .windowOpen
        case .ownerKeyPending?: state = .ownerKeyPending
        case .ownerKeyActive?: state = .ownerKeyActive
        }
        if let record, state == .ownerKeyActive || state == .ownerKeyPending, let terminated = record.terminatedOwnerKeyId,
           terminated == record.ownerKeyId, let terminatedAt = record.terminatedAt, terminatedAt >= (record.updatedAt ?? terminatedAt) {
            state = .noOwnerKey
        }
        return .init(state: state, ownerKeyId: record?.ownerKeyId?.hexString, activeOwnerKeyId: record?.activeOwnerKeyId?.hexString,
                     terminatedOwnerKeyId: record?.terminatedOwnerKeyId?.hexString, updatedAt: record?.updatedAt,
                     modeRequestedAt: record?.modeRequestedAt, modeAnsweredAt: record?.modeAnsweredAt)
    }
}
