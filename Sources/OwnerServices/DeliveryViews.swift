import CloudSimulator
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// OP-01a: the pairing password handed to the app, awaiting its confirmation (schema
/// `PasswordHandout`).
public struct PasswordHandout: Codable, Sendable, Equatable {
    /// The vehicle.
    public var vin: String
    /// The pairing password (decimal digits).
    public var password: String
    /// To confirm receipt with (32 hex digits).
    public var deliveryId: String
    /// When it was first handed out.
    public var handedOutAt: Date

    /// Creates a handout.
    public init(vin: String, password: String, deliveryId: String, handedOutAt: Date) {
        self.vin = vin
        self.password = password
        self.deliveryId = deliveryId
        self.handedOutAt = handedOutAt
    }
}

/// OwnerPairingModeRequest 0x0E after a delivery (schema `PairingModeRequest`): filled by the
/// shell, which sends it.
public struct PairingModeRequestView: Codable, Sendable, Equatable {
    /// Sent or not.
    public enum State: String, Codable, Sendable, Equatable, CaseIterable, CustomStringConvertible {
        case sent
        case notSent = "not-sent"
        /// The raw value.
        public var description: String { rawValue }
    }
    /// Sent or not.
    public var state: State
    /// The control reply's text (why not, or what was sent). Not nullable: omitted when absent.
    public var detail: String?

    /// Creates a view.
    public init(state: State, detail: String? = nil) {
        self.state = state
        self.detail = detail
    }
}

/// The password is delivered (schema `Delivery`).
public struct DeliveryView: Codable, Sendable, Equatable {
    /// The vehicle.
    public var vin: String
    /// When it was delivered.
    public var deliveredAt: Date
    /// How.
    public var channel: DeliveryChannel
    /// The 0x0E that followed.
    public var pairingModeRequest: PairingModeRequestView

    /// Creates a view.
    public init(vin: String, deliveredAt: Date, channel: DeliveryChannel, pairingModeRequest: PairingModeRequestView) {
        self.vin = vin
        self.deliveredAt = deliveredAt
        self.channel = channel
        self.pairingModeRequest = pairingModeRequest
    }
}

/// The outcome of a confirmation: what to answer, and whether the shell sends the 0x0E.
public struct DeliveryOutcome: Sendable, Equatable {
    /// The answer (its `pairingModeRequest` is the shell's to fill).
    public var delivery: DeliveryView
    /// The module to send OwnerPairingModeRequest 0x0E to.
    public var serial: String
    /// `true` for the confirmation that delivered the password; `false` for a repeated one
    /// (nothing to send again).
    public var newlyDelivered: Bool

    /// Creates an outcome.
    public init(delivery: DeliveryView, serial: String, newlyDelivered: Bool) {
        self.delivery = delivery
        self.serial = serial
        self.newlyDelivered = newlyDelivered
    }
}

/// A one-time pairing deep link (schema `PairingLink`).
public struct PairingLinkView: Codable, Sendable, Equatable {
    /// The vehicle.
    public var vin: String
    /// `spaak://pair?vin=VIN&token=TOKEN`.
    public var deepLink: String
    /// When the token stops being valid.
    public var expiresAt: Date

    /// Creates a view.
    public init(vin: String, deepLink: String, expiresAt: Date) {
        self.vin = vin
        self.deepLink = deepLink
        self.expiresAt = expiresAt
    }
}

/// The deep link was e-mailed (schema `EmailSent`).
public struct EmailSentView: Codable, Sendable, Equatable {
    /// The vehicle.
    public var vin: String
    /// The owner's address, masked (`a***@example.com`).
    public var sentTo: String
    /// The e-mail's Message-ID (with its angle brackets).
    public var messageId: String
    /// The link's expiry.
    public var expiresAt: Date

    /// Creates a view.
    public init(vin: String, sentTo: String, messageId: String, expiresAt: Date) {
        self.vin = vin
        self.sentTo = sentTo
        self.messageId = messageId
        self.expiresAt = expiresAt
    }
}

/// The password delivered by a redeemed deep link (schema `RedeemedPassword`).
public struct RedeemedPasswordView: Codable, Sendable, Equatable {
    /// The vehicle.
    public var vin: String
    /// The pairing password.
    public var password: String
    /// When it was delivered.
    public var deliveredAt: Date
    /// The 0x0E that followed (the shell's to fill).
    public var pairingModeRequest: PairingModeRequestView

    /// Creates a view.
    public init(vin: String, password: String, deliveredAt: Date, pairingModeRequest: PairingModeRequestView) {
        self.vin = vin
        self.password = password
        self.deliveredAt = deliveredAt
        self.pairingModeRequest = pairingModeRequest
    }
}

/// The outcome of a redemption: the answer, and the module the shell sends the 0x0E to.
public struct RedemptionOutcome: Sendable, Equatable {
    /// The answer.
    public var password: RedeemedPasswordView
    /// The module.
    public var serial: String

    /// Creates an outcome.
    public init(password: RedeemedPasswordView, serial: String) {
        self.password = password
        self.serial = serial
    }
}

/// A hotline request (schema `HotlineRequest`).
public struct HotlineRequestView: Codable, Sendable, Equatable {
    /// 32 hex digits.
    public var id: String
    /// The vehicle.
    public var vin: String
    /// The agent who took it.
    public var agent: String
    /// Where it is.
    public var state: HotlineRequestState
    /// When it was taken.
    public var createdAt: Date
    /// When the owner authorized it.
    public var authorizedAt: Date?
    /// The e-mail's Message-ID.
    public var messageId: String?
    /// Why it failed.
    public var failure: String?

    /// Creates a view.
    public init(id: String, vin: String, agent: String, state: HotlineRequestState, createdAt: Date,
                authorizedAt: Date? = nil, messageId: String? = nil, failure: String? = nil) {
        self.id = id
        self.vin = vin
        self.agent = agent
        self.state = state
        self.createdAt = createdAt
        self.authorizedAt = authorizedAt
        self.messageId = messageId
        self.failure = failure
    }

    /// Encodes absent values as `null`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(vin, forKey: .vin)
        try c.encode(agent, forKey: .agent)
        try c.encode(state, forKey: .state)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(authorizedAt, forKey: .authorizedAt)
        try c.encode(messageId, forKey: .messageId)
        try c.encode(failure, forKey: .failure)
    }
}

/// A VIN bound to its owner (`ctl register-owner`).
public struct OwnerRegistration: Codable, Sendable, Equatable {
    /// The VIN.
    public var vin: String
    /// The owner.
    public var user: String
    /// The owner's address.
    public var email: String
    /// Whether the VOS has heard from the vehicle yet.
    public var vehicleKnown: Bool
    /// What the change of owner did (`nil`: the VIN had no owner, or the same user).
    public var ownerChange: OwnerChange?

    /// Creates a registration.
    public init(vin: String, user: String, email: String, vehicleKnown: Bool, ownerChange: OwnerChange? = nil) {
        self.vin = vin
        self.user = user
        self.email = email
        self.vehicleKnown = vehicleKnown
        self.ownerChange = ownerChange
    }
}

/// What binding a VIN to another user did to the deliveries under way for the previous owner.
public struct OwnerChange: Codable, Sendable, Equatable {
    /// The user bound before.
    public var previousUser: String
    /// Passwords handed to the previous owner's app, unconfirmed: withdrawn (a new verifier is needed).
    public var withdrawnPasswords: Int
    /// Deep links still redeemable: revoked.
    public var revokedLinks: Int
    /// Link-issued passwords: available again.
    public var reopenedPasswords: Int
    /// Hotline requests awaiting authorization: failed.
    public var failedHotlineRequests: Int
    /// All of it in one sentence, e.g. `previous owner alice: handed-out password withdrawn (…)`.
    public var summary: String

    /// Creates the view of the VOS's record.
    public init(_ record: OwnerChangeRecord) {
        previousUser = record.previousUser
        withdrawnPasswords = record.withdrawnPasswords
        revokedLinks = record.revokedLinks
        reopenedPasswords = record.reopenedPasswords
        failedHotlineRequests = record.failedRequests
        summary = record.description
    }
}
