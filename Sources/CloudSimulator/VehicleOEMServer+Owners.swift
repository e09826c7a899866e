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
    public var replacedUser: String? { ownerChange?.previousUser }
    /// What the change of owner did to the deliveries under way (`nil`: the user did not change).
    public var ownerChange: OwnerChangeRecord?
}

/// What a change of owner did to the pairing password deliveries under way for the previous
/// owner (`register-owner VIN USER` with another user than the bound one).
public struct OwnerChangeRecord: Sendable, Equatable, CustomStringConvertible {
    /// The user bound to the VIN before.
    public var previousUser: String
    /// Passwords handed out to the previous owner's app and not confirmed: withdrawn (the
    /// previous owner knows them), forgotten; a new verifier is needed.
    public var withdrawnPasswords = 0
    /// Deep links of the VIN still redeemable (not redeemed, replaced or expired): revoked.
    public var revokedLinks = 0
    /// Passwords on the link channel: available again, channel cleared (a link never shows
    /// the password), so the new owner may use either channel.
    public var reopenedPasswords = 0
    /// Hotline requests of the VIN still awaiting authorization: failed.
    public var failedRequests = 0

    /// Creates a record of nothing done yet.
    public init(previousUser: String) { self.previousUser = previousUser }

    /// For the operator, e.g. `previous owner alice: handed-out password withdrawn (…)`.
    public var description: String {
        var parts: [String] = []
        if withdrawnPasswords > 0 {
            parts.append((withdrawnPasswords == 1 ? "handed-out password" : "\(withdrawnPasswords) handed-out passwords")
                         + " withdrawn (a new verifier is needed: push-verifier SERIAL, or a KTS owner key termination → PP-03)")
        }
        if revokedLinks > 0 { parts.append(revokedLinks == 1 ? "1 link revoked" : "\(revokedLinks) links revoked") }
        if reopenedPasswords > 0 {
            parts.append((reopenedPasswords == 1 ? "link-issued password" : "\(reopenedPasswords) link-issued passwords")
                         + " available again")
        }
        if failedRequests > 0 {
            parts.append((failedRequests == 1 ? "1 hotline request" : "\(failedRequests) hotline requests") + " failed")
        }
        return "previous owner \(previousUser): " + (parts.isEmpty ? "nothing was being delivered" : parts.joined(separator: "; "))
    }
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
    /// before the VOS has heard from the vehicle. When another user was bound, the
    /// deliveries under way for that user end in the same transaction (`changeOwner`).
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
        var change: OwnerChangeRecord?
        if let previous, previous.user != user {
            change = try changeOwner(vin: vin, from: previous.user, date: date)
        }
        return OwnerRegistrationResult(owner: record, vehicleKnown: try vehicle(vin: vin) != nil, ownerChange: change)
    }

    /// The VIN changed hands: what was under way for `previousUser` must not reach the new
    /// owner. For every module reporting `vin`: a password handed out to the app and not
    /// confirmed is withdrawn (the previous owner knows it; ended, forgotten); the deep links
    /// still redeemable are revoked and a link-issued password is available again (channel
    /// cleared); hotline requests awaiting authorization fail. Delivered and ended passwords
    /// stay as they are.
    func changeOwner(vin: String, from previousUser: String, date: Date) throws -> OwnerChangeRecord {
        var change = OwnerChangeRecord(previousUser: previousUser)
        for module in try vehicles(vin: vin) {
            for verifier in try verifiers(serial: module.serial) {
                guard let id = verifier.id else { continue }
                for var link in try pairingLinks(verifierId: id)
                where link.vin == vin && link.redeemedAt == nil && link.replacedAt == nil && date < link.expiresAt {
                    link.replacedAt = date
                    try savePairingLink(link)
                    change.revokedLinks += 1
                }
            }
            for var password in try passwords(serial: module.serial) {
                switch password.state {
                case .handedOut:
                    password.end(.withdrawn, date: date)
                    try savePassword(password)
                    change.withdrawnPasswords += 1
                case .linkIssued:
                    password.channel = nil
                    try savePassword(password)
                    change.reopenedPasswords += 1
                case .none, .available, .delivered, .replaced, .paired, .withdrawn:
                    break
                }
            }
        }
        for var request in try hotlineRequests() where request.vin == vin && request.state == .awaitingAuthorization {
            request.state = .failed
            request.failure = "the vehicle changed owner"
            try saveHotlineRequest(request)
            change.failedRequests += 1
        }
        return change
    }
}

extension VehicleOEMServer {
    /// The domain of an owner's default e-mail address (RFC 2606 `.test`: never delivered).
    public static let defaultOwnerEmailDomain = "owners.spaak-sim.test"

    /// `ctl register-owner VIN USER [EMAIL]`: binds a VIN to its owner (see
    /// `CloudStore.registerOwner`; another user than the bound one ends the deliveries under
    /// way for that one in the same transaction); refusals throw `OwnerRegistrationError`.
    public func registerOwner(vin: String, user: String, email: String?, date: Date) throws -> OwnerRegistrationResult {
        try repository.transaction { store in try store.registerOwner(vin: vin, user: user, email: email, date: date) }
    }

    /// Why a withdrawn pairing password of `serial` cannot be delivered, and what brings the next one.
    public static func withdrawnPasswordAdvice(serial: String) -> String {
        "the pairing password was withdrawn when the vehicle changed owner (it had been handed to the previous owner's app): "
            + "a new verifier is needed (PP-02: spaak-cloud ctl SOCKET push-verifier \(serial), "
            + "or a KTS owner key termination → PP-03)"
    }
}
