#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The outcome of binding a VIN to its owner.
public struct OwnerRegistrationResult: Sendable, Equatable {
    /// The binding as stored.
    public var owner: VehicleOwnerRecord
    /// Whether the VOS has heard from a vehicle with that VIN (tag 0x04) yet.
    public var vehicleKnown: Bool
    /// The user bound to the VIN before, if another one was.
    public var replacedUser: String?
}

/// A refused owner registration, with a sentence for the operator.
public struct OwnerRegistrationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The sentence.
    public var description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}

extension CloudStore {
    /// Binds `vin` to `user` (replacing an earlier binding of that VIN): the VIN must be an
    /// ISO 3779 VIN, the user `^[a-z0-9][a-z0-9._-]{0,63}$`, the e-mail a plain
    /// `local@domain` (default `USER@owners.spaak-sim.test`). The VIN may be registered
    /// before the VOS has heard from the vehicle.
    public func registerOwner(vin: String, user: String, email: String?, date: Date) throws -> OwnerRegistrationResult {
        guard OwnerSyntax.isVIN(vin) else {
            throw OwnerRegistrationError("'\(vin.prefix(40))' is not a VIN (17 characters A-Z 0-9 without I, O, Q)")
        }
        guard OwnerSyntax.isUser(user) else {
            throw OwnerRegistrationError("'\(user.prefix(80))' is not a user name (a-z 0-9 . _ -, starting with a letter or digit, at most 64)")
        }
        let address = email ?? "\(user)@\(VehicleOEMServer.defaultOwnerEmailDomain)"
        guard OwnerSyntax.isEmail(address) else {
            throw OwnerRegistrationError("'\(address.prefix(80))' is not an e-mail address (local@domain)")
        }
        let previous = try owner(vin: vin)
        let record = VehicleOwnerRecord(vin: vin, user: user, email: address, registeredAt: date)
        try saveOwner(record)
        return OwnerRegistrationResult(owner: record, vehicleKnown: try vehicle(vin: vin) != nil,
                                       replacedUser: previous.flatMap { $0.user == user ? nil : $0.user })
    }
}

extension VehicleOEMServer {
    /// The domain of an owner's default e-mail address (RFC 2606 `.test`: never delivered).
    public static let defaultOwnerEmailDomain = "owners.spaak-sim.test"

    /// `ctl register-owner VIN USER [EMAIL]`: binds a VIN to its owner (see
    /// `CloudStore.registerOwner`); refusals throw `OwnerRegistrationError`.
    public func registerOwner(vin: String, user: String, email: String?, date: Date) throws -> OwnerRegistrationResult {
        try repository.transaction { store in try store.registerOwner(vin: vin, user: user, email: email, date: date) }
    }
}
