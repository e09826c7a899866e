import CloudProtocol
import CloudSimulator
import Foundation
import SpaakCore

/// The Vehicle OEM Server's owner services (seed 5.6.5, OP-01a mobile app, OP-01b customer
/// portal / hotline): how the pairing password of a vehicle's current SPAKE2+ verifier
/// reaches its owner, over the VOS's repository.
///
/// Pure: no sockets, clock or threads. Time comes in as `date`, randomness from
/// `randomBytes`, e-mail goes to the injected `MailOutbox`. Every public call is one
/// repository transaction (the outbox write of an e-mail inside it: a failed e-mail leaves
/// nothing behind), so the caller runs it on the thread that owns the repository.
///
/// The checks of a password, link or e-mail request, in this order (the first failing one
/// decides): 1. the caller's role (`roleNotAllowed`); 2. VIN syntax (`invalidRequest`);
/// 3. the VIN is bound to the caller (`notOwner`; for the hotline a VIN without an owner is
/// an `unknownVehicle`); 4. the VOS has heard from the vehicle (`unknownVehicle`); 5. the
/// service is provisioned: latest [K] installed, latest verifier installed and not revoked
/// (`serviceNotProvisioned`); 6. the password is not delivered nor ended
/// (`passwordAlreadyDelivered`); 7. no other delivery channel is under way
/// (`deliveryChannelConflict`). Errors never carry a password, token or key.
public final class OwnerServices {
    /// The VOS state (the same repository the `VehicleOEMServer` uses).
    public let repository: any CloudRepository
    /// Where e-mails go.
    public let outbox: any MailOutbox
    /// The knobs.
    public let configuration: OwnerServicesConfiguration
    let randomBytes: (Int) -> [UInt8]

    /// Creates the services over `repository`; `randomBytes(n)` must return `n` random bytes.
    public init(repository: any CloudRepository, outbox: any MailOutbox, configuration: OwnerServicesConfiguration = .init(),
                randomBytes: @escaping (Int) -> [UInt8] = VehicleOEMServer.systemRandomBytes) {
        self.repository = repository
        self.outbox = outbox
        self.configuration = configuration
        self.randomBytes = randomBytes
    }

    /// Binds `vin` to `user` (replacing an earlier binding of that VIN), as
    /// `ctl register-owner VIN USER [EMAIL]` does; `email` `nil`: `USER@owners.spaak-sim.test`.
    /// Another user than the bound one ends what was under way for the previous owner
    /// (`CloudStore.changeOwner`), reported in `ownerChange`.
    public func registerOwner(vin: String, user: String, email: String?, date: Date) throws(OwnerServiceError) -> OwnerRegistration {
        let result = try transaction { store in
            do {
                return try store.registerOwner(vin: vin, user: user, email: email, date: date)
            } catch let error as OwnerRegistrationError {
                throw OwnerServiceError(.invalidRequest, error.description)
            }
        }
        return OwnerRegistration(vin: result.owner.vin, user: result.owner.user, email: result.owner.email,
                                 vehicleKnown: result.vehicleKnown, ownerChange: result.ownerChange.map(OwnerChange.init))
    }

    // MARK: - Shared steps

    /// Runs `body` in one repository transaction; an `OwnerServiceError` it throws passes
    /// through (and rolls back), anything else is an `internalError`.
    func transaction<T>(_ body: (any CloudStore) throws -> T) throws(OwnerServiceError) -> T {
        do {
            return try repository.transaction(body)
        } catch let error as OwnerServiceError {
            throw error
        } catch {
            throw OwnerServiceError(.internalError, "the VOS database failed: \(error)")
        }
    }

    /// Check 1: the caller's role is one of `allowed`.
    static func requireRole(_ caller: Caller, _ allowed: [CallerRole], _ what: String) throws(OwnerServiceError) {
        guard allowed.contains(caller.role) else {
            let roles = allowed.map(\.rawValue).joined(separator: " or ")
            throw OwnerServiceError(.roleNotAllowed, "role \(caller.role.rawValue) may not \(what) (needs \(roles))")
        }
    }

    /// Check 2: the VIN's syntax.
    static func requireVIN(_ vin: String) throws(OwnerServiceError) {
        guard OwnerSyntax.isVIN(vin) else {
            throw OwnerServiceError(.invalidRequest, "'\(vin.prefix(40))' is not a VIN (17 characters A-Z 0-9 without I, O, Q)")
        }
    }

    /// Check 3: the owner of `vin`, who must be the caller (owner, portal); for the hotline
    /// any owner, but one must be registered.
    static func requireOwner(vin: String, caller: Caller, store: any CloudStore) throws -> VehicleOwnerRecord {
        let owner = try store.owner(vin: vin)
        if caller.role == .hotline {
            guard let owner else { throw OwnerServiceError(.unknownVehicle, "no owner is registered for \(vin)") }
            return owner
        }
        guard let owner, owner.user == caller.user else {
            throw OwnerServiceError(.notOwner, "\(caller.user) is not the registered owner of \(vin)")
        }
        return owner
    }

    /// Check 4: the vehicle the VOS knows by `vin`.
    static func requireVehicle(vin: String, store: any CloudStore) throws -> VehicleRecord {
        guard let vehicle = try store.vehicle(vin: vin) else {
            throw OwnerServiceError(.unknownVehicle, "the VOS has not heard from this vehicle yet (\(vin))")
        }
        return vehicle
    }

    /// What a delivery works on once checks 1-5 passed.
    struct DeliveryTarget {
        var owner: VehicleOwnerRecord
        var vehicle: VehicleRecord
        var verifier: VerifierRecord
        var password: PasswordRecord
        var vin: String { owner.vin }
        var serial: String { vehicle.serial }
    }

    /// Checks 3-5 for `vin` (1 and 2 are the caller's, before the transaction).
    static func deliveryTarget(vin: String, caller: Caller, store: any CloudStore) throws -> DeliveryTarget {
        let owner = try requireOwner(vin: vin, caller: caller, store: store)
        let vehicle = try requireVehicle(vin: vin, store: store)
        let provisioning = try Provisioning(serial: vehicle.serial, store: store)
        guard provisioning.missing.isEmpty, let verifier = provisioning.verifier, let password = provisioning.password else {
            throw OwnerServiceError(.serviceNotProvisioned,
                                    "the service is not provisioned for \(vin): " + provisioning.missing.joined(separator: "; "))
        }
        return DeliveryTarget(owner: owner, vehicle: vehicle, verifier: verifier, password: password)
    }

    /// Check 6: the password may still be delivered.
    static func requireUndelivered(_ target: DeliveryTarget) throws {
        let password = target.password
        switch password.state {
        case .delivered:
            let channel = password.channel.map { " (\($0.rawValue))" } ?? ""
            throw OwnerServiceError(.passwordAlreadyDelivered,
                                    "the pairing password of \(target.vin) was already delivered\(channel) at \(iso(password.deliveredAt))")
        case .paired:
            throw OwnerServiceError(.passwordAlreadyDelivered,
                                    "the pairing password of \(target.vin) was used: the vehicle reported an owner key at \(iso(password.endedAt))")
        case .withdrawn:
            throw OwnerServiceError(.serviceNotProvisioned, "the service is not provisioned for \(target.vin): "
                                    + VehicleOEMServer.withdrawnPasswordAdvice(serial: target.serial))
        case .replaced, .none:
            throw OwnerServiceError(.passwordAlreadyDelivered, "the pairing password of \(target.vin) has ended (\(password.state))")
        case .available, .handedOut, .linkIssued:
            return
        }
    }

    /// A lower-case hex id of 16 random bytes (delivery ids, hotline request ids).
    func newHexId() -> String { randomBytes(16).hexString.lowercased() }

    /// ISO 8601 for details.
    static func iso(_ date: Date?) -> String { date.map { $0.formatted(.iso8601) } ?? "-" }
}

/// Whether a vehicle's service is provisioned (check 5): latest [K] installed (status 0),
/// latest verifier installed (status 0) and not revoked, its password stored and not
/// withdrawn (an owner change withdrew a password handed to the previous owner's app: only a
/// new verifier brings the next one).
struct Provisioning {
    var verifier: VerifierRecord?
    var password: PasswordRecord?
    /// What is missing, in words (empty: provisioned).
    var missing: [String] = []

    init(serial: String, store: any CloudStore) throws {
        let ok = CloudStatus.ok.rawValue
        if let certificate = try store.latestCertificate(serial: serial) {
            if let status = certificate.installStatus, status != ok {
                missing.append("the vehicle identity certificate [K] failed to install (status \(status))")
            } else if certificate.installStatus == nil {
                missing.append("the vehicle has not confirmed installing its vehicle identity certificate [K]")
            }
        } else {
            missing.append("no vehicle identity certificate [K] issued (PP-01)")
        }
        if let current = try store.currentPassword(serial: serial) {
            verifier = current.verifier
            password = current.password
            if current.verifier.revoked {
                missing.append("the SPAKE2+ verifier was revoked (owner key terminated; waiting for PP-03)")
            } else if let status = current.verifier.status, status != ok {
                missing.append("the SPAKE2+ verifier failed to install (status \(status))")
            } else if current.verifier.status == nil {
                missing.append("the vehicle has not confirmed installing its SPAKE2+ verifier")
            } else if current.password == nil {
                missing.append("no pairing password is stored for the verifier")
            } else if current.password?.state == .withdrawn {
                missing.append(VehicleOEMServer.withdrawnPasswordAdvice(serial: serial))
            }
        } else {
            missing.append("no SPAKE2+ verifier made (PP-02/PP-03)")
        }
    }
}
