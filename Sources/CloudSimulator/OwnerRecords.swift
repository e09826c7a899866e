#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The last authenticated V2C message the VOS handled for a vehicle (accepted, or refused
/// with an ErrorResponse): what the fleet view shows as "last use case and error".
public struct LastUseCaseRecord: Sendable, Equatable {
    /// The use case of tag 0x07, e.g. `PP-01`, `OP`.
    public var useCase: String
    /// The message's name, e.g. `VehicleIdentityCSRRequest`.
    public var message: String
    /// `true` when the VOS accepted it, `false` when it answered with an ErrorResponse.
    public var accepted: Bool
    /// Why it was refused (`nil` when accepted).
    public var error: String?
    /// When the VOS handled it.
    public var at: Date

    /// Creates a record.
    public init(useCase: String, message: String, accepted: Bool, error: String? = nil, at: Date) {
        self.useCase = useCase
        self.message = message
        self.accepted = accepted
        self.error = error
        self.at = at
    }
}

/// The owner bound to a VIN (`spaak-cloud ctl register-owner VIN USER [EMAIL]`).
public struct VehicleOwnerRecord: Sendable, Equatable {
    /// The VIN (ISO 3779).
    public var vin: String
    /// The user name of the identity provider (the token's `sub`).
    public var user: String
    /// Where OP-01b e-mails go.
    public var email: String
    /// When the binding was made.
    public var registeredAt: Date

    /// Creates a record.
    public init(vin: String, user: String, email: String, registeredAt: Date) {
        self.vin = vin
        self.user = user
        self.email = email
        self.registeredAt = registeredAt
    }
}

/// How a pairing deep link reached the owner.
public enum PairingLinkVia: String, Sendable, Equatable, CaseIterable {
    /// Returned to the app or portal (OP-01a).
    case app
    /// E-mailed to the owner (OP-01b).
    case email
}

/// A one-time pairing deep-link token. Only its SHA-256 is stored, never the token.
public struct PairingLinkRecord: Sendable, Equatable {
    /// SHA-256 of the token (32 bytes).
    public var tokenHash: [UInt8]
    /// The verifier whose password the token delivers.
    public var verifierId: Int64
    /// The vehicle.
    public var vin: String
    /// The owner it was made for.
    public var user: String
    /// When it was made.
    public var createdAt: Date
    /// When it stops being valid.
    public var expiresAt: Date
    /// When it was redeemed (`nil`: not yet).
    public var redeemedAt: Date?
    /// When a newer link replaced it (`nil`: not replaced).
    public var replacedAt: Date?
    /// How it reached the owner.
    public var via: PairingLinkVia

    /// Creates a record.
    public init(tokenHash: [UInt8], verifierId: Int64, vin: String, user: String, createdAt: Date, expiresAt: Date,
                redeemedAt: Date? = nil, replacedAt: Date? = nil, via: PairingLinkVia) {
        self.tokenHash = tokenHash
        self.verifierId = verifierId
        self.vin = vin
        self.user = user
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.redeemedAt = redeemedAt
        self.replacedAt = replacedAt
        self.via = via
    }
}

/// The state of a hotline request (OP-01b).
public enum HotlineRequestState: String, Sendable, Equatable, CaseIterable, Codable, CustomStringConvertible {
    /// Waiting for the owner's authorization.
    case awaitingAuthorization = "awaiting-authorization"
    /// Authorized; the deep link was e-mailed.
    case sent
    /// Authorized, but the e-mail could not be sent.
    case failed

    /// The raw value.
    public var description: String { rawValue }
}

/// A pairing password request taken by a help-centre agent (OP-01b).
public struct HotlineRequestRecord: Sendable, Equatable {
    /// 32 hex digits (16 random bytes).
    public var id: String
    /// The vehicle.
    public var vin: String
    /// The agent who took it.
    public var agent: String
    /// When it was taken.
    public var createdAt: Date
    /// Where it is.
    public var state: HotlineRequestState
    /// The owner who authorized it.
    public var authorizedBy: String?
    /// When.
    public var authorizedAt: Date?
    /// The Message-ID of the e-mail sent.
    public var messageId: String?
    /// Why it failed.
    public var failure: String?

    /// Creates a record.
    public init(id: String, vin: String, agent: String, createdAt: Date, state: HotlineRequestState = .awaitingAuthorization,
                authorizedBy: String? = nil, authorizedAt: Date? = nil, messageId: String? = nil, failure: String? = nil) {
        self.id = id
        self.vin = vin
        self.agent = agent
        self.createdAt = createdAt
        self.state = state
        self.authorizedBy = authorizedBy
        self.authorizedAt = authorizedAt
        self.messageId = messageId
        self.failure = failure
    }
}

/// The syntax of the owner services' identifiers.
public enum OwnerSyntax {
    /// A VIN: 17 characters of `A-H J-N P R-Z 0-9` (ISO 3779: no I, O, Q).
    public static func isVIN(_ text: String) -> Bool {
        text.utf8.count == 17 && text.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A && c != 0x49 && c != 0x4F && c != 0x51)
        }
    }

    /// A user name: `^[a-z0-9][a-z0-9._-]{0,63}$`.
    public static func isUser(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, bytes.count <= 64, isLowerAlnum(first) else { return false }
        return bytes.allSatisfy { isLowerAlnum($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }
    }

    /// A plain `local@domain` address: printable ASCII without spaces, quotes, angle brackets
    /// or commas; one `@`; a dotted domain of letters, digits and hyphens; at most 254 bytes.
    public static func isEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard text.utf8.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[0].utf8.count <= 64 else { return false }
        let localOK = parts[0].utf8.allSatisfy { c in
            c > 0x20 && c < 0x7F && !"\"(),:;<>[\\]".utf8.contains(c)
        }
        let labels = parts[1].split(separator: ".", omittingEmptySubsequences: false)
        let domainOK = labels.count >= 2 && labels.allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { isAlnum($0) || $0 == 0x2D }
        }
        return localOK && domainOK && !parts[0].hasPrefix(".") && !parts[0].hasSuffix(".") && !parts[0].contains("..")
    }

    /// 32 lower-case hex digits (a delivery or hotline request id).
    public static func isHexId(_ text: String) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    private static func isLowerAlnum(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) }
    private static func isAlnum(_ c: UInt8) -> Bool { isLowerAlnum(c) || (c >= 0x41 && c <= 0x5A) }
}
