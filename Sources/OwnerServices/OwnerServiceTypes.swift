#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Who calls an owner service: the verified token's subject and role (the TBE checked the
/// token's signature, issuer, audience and expiry before anything here runs).
public struct Caller: Sendable, Equatable {
    /// The user (`sub`): an owner's user name, or the agent's for `hotline`.
    public var user: String
    /// The role claim.
    public var role: CallerRole

    /// Creates a caller.
    public init(user: String, role: CallerRole) {
        self.user = user
        self.role = role
    }
}

/// The roles of the simulated identity provider.
public enum CallerRole: String, Sendable, Equatable, CaseIterable, Codable {
    /// The owner, through the mobile app (OP-01a).
    case owner
    /// The owner, signed in to the customer portal (OP-01b).
    case portal
    /// An agent of the help centre (OP-01b).
    case hotline
}

/// Which step of an owner service failed: the `reason` of the RFC 9457 problem document
/// (the OpenAPI document lists the same strings) and its HTTP status.
public enum ProblemReason: String, Sendable, Equatable, CaseIterable, Codable {
    case missingToken = "missing-token"
    case invalidToken = "invalid-token"
    case expiredToken = "expired-token"
    case wrongAudience = "wrong-audience"
    case roleNotAllowed = "role-not-allowed"
    case notOwner = "not-owner"
    case invalidRequest = "invalid-request"
    case unsupportedMediaType = "unsupported-media-type"
    case unknownVehicle = "unknown-vehicle"
    case unknownDelivery = "unknown-delivery"
    case unknownRequest = "unknown-request"
    case serviceNotProvisioned = "service-not-provisioned"
    case passwordAlreadyDelivered = "password-already-delivered"
    case deliveryChannelConflict = "delivery-channel-conflict"
    case requestNotPending = "request-not-pending"
    case linkNotValid = "link-not-valid"
    case mailDeliveryFailed = "mail-delivery-failed"
    case notFound = "not-found"
    case methodNotAllowed = "method-not-allowed"
    case internalError = "internal-error"

    /// The HTTP status code of a problem with this reason.
    public var status: Int {
        switch self {
        case .missingToken, .invalidToken, .expiredToken, .wrongAudience: return 401
        case .roleNotAllowed, .notOwner: return 403
        case .invalidRequest: return 400
        case .unsupportedMediaType: return 415
        case .unknownVehicle, .unknownDelivery, .unknownRequest, .notFound: return 404
        case .serviceNotProvisioned, .passwordAlreadyDelivered, .deliveryChannelConflict, .requestNotPending: return 409
        case .linkNotValid: return 410
        case .mailDeliveryFailed: return 503
        case .methodNotAllowed: return 405
        case .internalError: return 500
        }
    }

    /// The problem's short title (RFC 9457 `title`), the same for every occurrence.
    public var title: String {
        switch self {
        case .missingToken: return "No bearer token"
        case .invalidToken: return "The token is not valid"
        case .expiredToken: return "The token has expired"
        case .wrongAudience: return "The token is not meant for this service"
        case .roleNotAllowed: return "The token's role may not do this"
        case .notOwner: return "The user is not the owner of this vehicle"
        case .invalidRequest: return "The request is malformed"
        case .unsupportedMediaType: return "The body must be application/json"
        case .unknownVehicle: return "Unknown vehicle"
        case .unknownDelivery: return "Unknown delivery"
        case .unknownRequest: return "Unknown hotline request"
        case .serviceNotProvisioned: return "The service is not provisioned"
        case .passwordAlreadyDelivered: return "The pairing password was already delivered"
        case .deliveryChannelConflict: return "The pairing password is being delivered another way"
        case .requestNotPending: return "The hotline request is not waiting for authorization"
        case .linkNotValid: return "The pairing link is not valid"
        case .mailDeliveryFailed: return "The e-mail could not be sent"
        case .notFound: return "Not found"
        case .methodNotAllowed: return "Method not allowed"
        case .internalError: return "Internal error"
        }
    }
}

/// A refused owner service request: the reason and a sentence for the caller (never a
/// password, token or key).
public struct OwnerServiceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Which step failed.
    public var reason: ProblemReason
    /// What exactly, for the caller and the log.
    public var detail: String

    /// Creates an error.
    public init(_ reason: ProblemReason, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }

    /// `reason: detail`.
    public var description: String { "\(reason.rawValue): \(detail)" }
}
