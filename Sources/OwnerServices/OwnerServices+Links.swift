import CloudSimulator
import Foundation
import SpaakCore

/// OP-01a/b, the link channel: one-time deep-link tokens, to the app or by e-mail, redeemed
/// by the app.
extension OwnerServices {
    /// A one-time pairing deep link (owner, portal). Available or link issued → link issued:
    /// a new token replaces any unredeemed one of that password.
    public func createLink(vin: String, caller: Caller, date: Date) throws(OwnerServiceError) -> PairingLinkView {
        try Self.requireRole(caller, [.owner, .portal], "get a pairing link")
        try Self.requireVIN(vin)
        return try transaction { store in
            let target = try Self.deliveryTarget(vin: vin, caller: caller, store: store)
            let link = try issueLink(target, via: .app, store: store, date: date)
            return PairingLinkView(vin: vin, deepLink: PairingToken.deepLink(vin: vin, token: link.token), expiresAt: link.expiresAt)
        }
    }

    /// OP-01b: e-mails a new deep link to the owner's registered address (portal, owner).
    /// The e-mail goes to the outbox inside the transaction: when the outbox fails, the
    /// caller gets `mailDeliveryFailed` and no link is left behind.
    public func emailLink(vin: String, caller: Caller, date: Date) throws(OwnerServiceError) -> EmailSentView {
        try Self.requireRole(caller, [.portal, .owner], "have a pairing link e-mailed")
        try Self.requireVIN(vin)
        return try transaction { store in
            let target = try Self.deliveryTarget(vin: vin, caller: caller, store: store)
            return try sendLink(target, store: store, date: date)
        }
    }

    /// The app redeems a deep link's token (owner): the token's link must exist, be made for
    /// the caller (still the VIN's owner), be neither redeemed, replaced nor expired, and its
    /// password must be the current verifier's and still deliverable; then the password is
    /// delivered (the VOS forgets it) and returned.
    public func redeem(token: String, caller: Caller, date: Date) throws(OwnerServiceError) -> RedemptionOutcome {
        try Self.requireRole(caller, [.owner], "redeem a pairing link")
        guard PairingToken.isWellFormed(token) else {
            throw OwnerServiceError(.invalidRequest, "the token must be 43 characters of base64url")
        }
        return try transaction { store in
            guard var link = try store.pairingLink(tokenHash: PairingToken.hash(token)) else {
                throw OwnerServiceError(.linkNotValid, "unknown pairing link")
            }
            try Self.requireRedeemer(link, caller: caller, store: store)
            if let redeemed = link.redeemedAt {
                throw OwnerServiceError(.linkNotValid, "the pairing link was already redeemed at \(Self.iso(redeemed))")
            }
            if let replaced = link.replacedAt {
                throw OwnerServiceError(.linkNotValid, "the pairing link was replaced (by a newer link, or revoked when "
                                        + "the vehicle changed owner) at \(Self.iso(replaced))")
            }
            if date >= link.expiresAt {
                throw OwnerServiceError(.linkNotValid, "the pairing link expired at \(Self.iso(link.expiresAt))")
            }
            guard let vehicle = try store.vehicle(vin: link.vin), let current = try store.currentPassword(serial: vehicle.serial),
                  current.verifier.id == link.verifierId, !current.verifier.revoked, var password = current.password else {
                throw OwnerServiceError(.linkNotValid, "the vehicle's verifier was replaced: the pairing link's password no longer pairs")
            }
            guard password.state == .linkIssued, let secret = password.password else {
                throw OwnerServiceError(.linkNotValid, "the pairing link's password is no longer deliverable (\(password.state))")
            }
            password.deliveredAt = date
            password.password = nil
            try store.savePassword(password)
            link.redeemedAt = date
            try store.savePairingLink(link)
            let view = RedeemedPasswordView(vin: link.vin, password: secret, deliveredAt: date,
                                            pairingModeRequest: PairingModeRequestView(state: .notSent, detail: "not sent yet"))
            return RedemptionOutcome(password: view, serial: vehicle.serial)
        }
    }

    /// Who may redeem `link`: the VIN's owner now, and the one it was made for. The detail
    /// says which failed: the caller does not own the vehicle (any more, when the link was
    /// made for the caller: the vehicle changed owner since), or owns it but the link was
    /// made for a previous owner. Other users' names are not disclosed.
    static func requireRedeemer(_ link: PairingLinkRecord, caller: Caller, store: any CloudStore) throws {
        guard try store.owner(vin: link.vin)?.user == caller.user else {
            if link.user == caller.user {
                throw OwnerServiceError(.notOwner, "\(caller.user) no longer owns \(link.vin): "
                                        + "the vehicle changed owner after the pairing link was made for \(caller.user)")
            }
            throw OwnerServiceError(.notOwner, "\(caller.user) is not the registered owner of \(link.vin)")
        }
        guard link.user == caller.user else {
            throw OwnerServiceError(.notOwner, "the pairing link was made for a previous owner of \(link.vin), not for \(caller.user)")
        }
    }

    /// Checks 6-7 for a link, then a new token replacing the unredeemed ones of the password.
    func issueLink(_ target: DeliveryTarget, via: PairingLinkVia, store: any CloudStore, date: Date) throws
        -> (token: String, expiresAt: Date)
    {
        try Self.requireUndelivered(target)
        var password = target.password
        if password.state == .handedOut {
            throw OwnerServiceError(.deliveryChannelConflict,
                                    "the pairing password of \(target.vin) was handed to the app: it is delivered by the app's confirmation")
        }
        for var old in try store.pairingLinks(verifierId: target.password.verifierId) where old.redeemedAt == nil && old.replacedAt == nil {
            old.replacedAt = date
            try store.savePairingLink(old)
        }
        let token = PairingToken.make(randomBytes: randomBytes)
        let expiresAt = date.addingTimeInterval(configuration.linkValidity.inSeconds)
        try store.savePairingLink(PairingLinkRecord(tokenHash: PairingToken.hash(token), verifierId: target.password.verifierId,
                                                    vin: target.vin, user: target.owner.user, createdAt: date,
                                                    expiresAt: expiresAt, via: via))
        if password.channel != .link {
            password.channel = .link
            try store.savePassword(password)
        }
        return (token, expiresAt)
    }

    /// Issues a link by e-mail to the target's owner and puts the e-mail in the outbox.
    func sendLink(_ target: DeliveryTarget, store: any CloudStore, date: Date) throws -> EmailSentView {
        let link = try issueLink(target, via: .email, store: store, date: date)
        let messageId = "<\(randomBytes(16).hexString.lowercased())@\(configuration.mailDomain)>"
        let email = PairingLinkEmail(fromName: configuration.mailFromName, fromAddress: configuration.mailFromAddress,
                                     to: target.owner.email, vin: target.vin,
                                     deepLink: PairingToken.deepLink(vin: target.vin, token: link.token),
                                     expiresAt: link.expiresAt, date: date, messageId: messageId)
        do {
            try outbox.deliver(MailMessage(messageId: messageId, to: target.owner.email, data: email.bytes))
        } catch {
            throw OwnerServiceError(.mailDeliveryFailed, "the mail outbox did not take the e-mail: \(error)")
        }
        return EmailSentView(vin: target.vin, sentTo: Self.masked(target.owner.email), messageId: messageId, expiresAt: link.expiresAt)
    }

    /// `alice@example.com` → `a***@example.com`.
    static func masked(_ address: String) -> String {
        guard let at = address.firstIndex(of: "@"), let first = address.first else { return "***" }
        return "\(first)***\(address[at...])"
    }
}
