#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An ECU the Vehicle OEM Server knows: its serial and the ECU identity certificate that the
/// plant's PKI issued (RP-02). V2C messages are verified with this certificate's key.
public struct ECURecord: Sendable, Equatable {
    /// The ECU serial number (the certificate's CN, tag 0x03 of every message).
    public var serial: String
    /// The ECU identity certificate, DER.
    public var certificateDER: [UInt8]
    /// When it was registered.
    public var registeredAt: Date

    /// Creates a record.
    public init(serial: String, certificateDER: [UInt8], registeredAt: Date) {
        self.serial = serial
        self.certificateDER = certificateDER
        self.registeredAt = registeredAt
    }
}

/// What the VOS knows of the vehicle an ECU sits in: the VIN (learnt from tag 0x04 of an
/// accepted V2C message) and the drmUUID it issued (SP-02).
public struct VehicleRecord: Sendable, Equatable {
    /// The ECU serial (one SpaaK module per vehicle).
    public var serial: String
    /// The VIN, once a V2C message carried it.
    public var vin: String?
    /// The drmUUID issued by SP-02, 16 bytes.
    public var drmUUID: [UInt8]?
    /// The last authenticated V2C message the VOS handled for this vehicle.
    public var lastUseCase: LastUseCaseRecord?

    /// Creates a record.
    public init(serial: String, vin: String? = nil, drmUUID: [UInt8]? = nil, lastUseCase: LastUseCaseRecord? = nil) {
        self.serial = serial
        self.vin = vin
        self.drmUUID = drmUUID
        self.lastUseCase = lastUseCase
    }
}

/// A vehicle identity subject id issued by PP-01 step 5.
public struct SubjectIdRecord: Sendable, Equatable {
    /// The subject id (see `SubjectIdFormat`).
    public var subjectId: String
    /// The ECU it was issued to.
    public var serial: String
    /// The transaction id of the VehicleSubjectIdRequest (a retry gets the same id back).
    public var transactionId: [UInt8]
    /// When it was issued.
    public var issuedAt: Date

    /// Creates a record.
    public init(subjectId: String, serial: String, transactionId: [UInt8], issuedAt: Date) {
        self.subjectId = subjectId
        self.serial = serial
        self.transactionId = transactionId
        self.issuedAt = issuedAt
    }
}

/// A vehicle identity certificate [K] issued by PP-01 step 12, and what the vehicle reported.
public struct CertificateRecord: Sendable, Equatable {
    /// Row id (`nil` before insertion).
    public var id: Int64?
    /// The ECU.
    public var serial: String
    /// The subject id (the certificate's CN).
    public var subjectId: String
    /// The certificate, DER.
    public var der: [UInt8]
    /// When it was issued.
    public var issuedAt: Date
    /// The status of the VehicleIdentityCertStatus (ICD 7.5), `nil` until it arrived.
    public var installStatus: UInt8?

    /// Creates a record.
    public init(id: Int64? = nil, serial: String, subjectId: String, der: [UInt8], issuedAt: Date, installStatus: UInt8? = nil) {
        self.id = id
        self.serial = serial
        self.subjectId = subjectId
        self.der = der
        self.issuedAt = issuedAt
        self.installStatus = installStatus
    }
}

/// Why a SPAKE2+ verifier was made.
public enum VerifierTrigger: Int, Sendable, Equatable {
    /// PP-02: pushed by the VOS on command.
    case push = 0
    /// PP-03, reason 1: owner key termination.
    case ownerKeyTermination = 1
    /// PP-03, reason 2: verifier deleted after failed pairings.
    case failedPairings = 2
    /// PP-03, reason 3: verifier missing at pairing.
    case missingAtPairing = 3
}

/// A SPAKE2+ verifier record made for an ECU, and its fate.
public struct VerifierRecord: Sendable, Equatable {
    /// Row id (`nil` before insertion).
    public var id: Int64?
    /// The ECU.
    public var serial: String
    /// The transaction id of the Spake2VerifierProvisioning (the request's for PP-03, a
    /// fresh one for a PP-02 push).
    public var transactionId: [UInt8]
    /// Tag 0x15's value: salt ‖ N ‖ r ‖ p ‖ w0 ‖ L (121 bytes).
    public var record: [UInt8]
    /// PP-02 push or the PP-03 reason.
    public var trigger: VerifierTrigger
    /// When it was made.
    public var createdAt: Date
    /// The status of the Spake2VerifierStatus (ICD 7.5), `nil` until it arrived.
    public var status: UInt8?
    /// `true` once superseded or terminated (an owner key termination, a newer verifier).
    public var revoked: Bool

    /// Creates a record.
    public init(id: Int64? = nil, serial: String, transactionId: [UInt8], record: [UInt8], trigger: VerifierTrigger,
                createdAt: Date, status: UInt8? = nil, revoked: Bool = false) {
        self.id = id
        self.serial = serial
        self.transactionId = transactionId
        self.record = record
        self.trigger = trigger
        self.createdAt = createdAt
        self.status = status
        self.revoked = revoked
    }
}

/// The pairing password behind one verifier and where it is in its lifecycle (OP-01a/b):
/// available → handed out to the app (awaiting its confirmation) or a deep link issued →
/// delivered; ended when a newer verifier replaces it, the owner pairs, or (handed out, not
/// confirmed) the vehicle changes owner. The password itself is kept only while it may still
/// be delivered (`nil` afterwards: the VOS forgets it).
public struct PasswordRecord: Sendable, Equatable {
    /// The verifier it belongs to.
    public var verifierId: Int64
    /// The ECU.
    public var serial: String
    /// The password (decimal digits); `nil` once delivered or ended.
    public var password: String?
    /// When it was delivered; `nil` while undelivered.
    public var deliveredAt: Date?
    /// The delivery channel chosen (app, link, operator); `nil` while none is.
    public var channel: PasswordChannel?
    /// The app channel's delivery id (32 hex digits), to confirm receipt with.
    public var deliveryId: String?
    /// When it was (first) handed out to the app.
    public var handedOutAt: Date?
    /// When it ended (a newer verifier, a pairing, an owner change); `nil` while current.
    public var endedAt: Date?
    /// Why it ended.
    public var endReason: PasswordEndReason?

    /// Creates a record.
    public init(verifierId: Int64, serial: String, password: String?, deliveredAt: Date? = nil, channel: PasswordChannel? = nil,
                deliveryId: String? = nil, handedOutAt: Date? = nil, endedAt: Date? = nil, endReason: PasswordEndReason? = nil) {
        self.verifierId = verifierId
        self.serial = serial
        self.password = password
        self.deliveredAt = deliveredAt
        self.channel = channel
        self.deliveryId = deliveryId
        self.handedOutAt = handedOutAt
        self.endedAt = endedAt
        self.endReason = endReason
    }

    /// Where the password is in its lifecycle.
    public var state: PasswordState {
        switch endReason {
        case .replaced?: return .replaced
        case .paired?: return .paired
        case .withdrawn?: return .withdrawn
        case nil: break
        }
        if deliveredAt != nil { return .delivered }
        switch channel {
        case .app?: return .handedOut
        case .link?: return .linkIssued
        case .operator?, nil: return .available
        }
    }

    /// Ends the password (`replaced`, `paired` or `withdrawn`) and forgets it; an ended one
    /// stays as it is.
    public mutating func end(_ reason: PasswordEndReason, date: Date) {
        guard endReason == nil else { return }
        endReason = reason
        endedAt = date
        password = nil
    }
}

/// How a pairing password is (being) delivered; one channel per password.
public enum PasswordChannel: String, Sendable, Equatable, CaseIterable {
    /// Handed to the app, delivered when the app confirms receipt.
    case app
    /// A one-time deep-link token (to the app or by e-mail), delivered when redeemed.
    case link
    /// Handed to the operator (`spaak-cloud ctl password SERIAL`).
    case `operator`
}

/// Why a pairing password ended.
public enum PasswordEndReason: String, Sendable, Equatable, CaseIterable {
    /// A newer verifier of the same ECU replaced it (PP-02, PP-03).
    case replaced
    /// The vehicle reported an owner key (OwnerPairingStatus 0x0D state 2 or 3).
    case paired
    /// Handed out to the app but not confirmed when the vehicle changed owner
    /// (`register-owner` with another user): the previous owner knows it, so it may not go to
    /// the new one; a new verifier (PP-02, or PP-03 after a KTS termination) replaces it.
    case withdrawn
}

/// The lifecycle state of a pairing password (`password.state` of the owner services' Vehicle).
public enum PasswordState: String, Sendable, Equatable, CaseIterable, Codable, CustomStringConvertible {
    /// No current verifier, hence no password.
    case none
    /// Not handed out yet.
    case available
    /// Handed to the app, awaiting its confirmation.
    case handedOut = "handed-out"
    /// A deep-link token is outstanding.
    case linkIssued = "link-issued"
    /// Delivered (confirmed by the app, redeemed, or handed to the operator).
    case delivered
    /// A newer verifier replaced it.
    case replaced
    /// The owner paired (the vehicle reported an owner key).
    case paired
    /// Handed out to the previous owner's app, unconfirmed, when the vehicle changed owner:
    /// forgotten; a new verifier is needed.
    case withdrawn

    /// Whether it may still be delivered (the VOS keeps the password exactly then).
    public var isDeliverable: Bool { self == .available || self == .handedOut || self == .linkIssued }

    /// The raw value.
    public var description: String { rawValue }
}

/// The two message counters kept per ECU (vehicle).
public enum CounterKind: String, Sendable, CaseIterable {
    /// The last accepted V2C counter of the module (a message must carry a greater one).
    case v2cAccepted = "v2c"
    /// The last C2V counter the cloud used (VOS and KTS share it, ICD 7.3).
    case c2vSent = "c2v"
}

/// A summary of the database for `status`.
public struct CloudSummary: Sendable, Equatable {
    /// One line per ECU.
    public struct ECULine: Sendable, Equatable {
        /// The serial.
        public var serial: String
        /// The VIN, if known.
        public var vin: String?
        /// The drmUUID, if issued.
        public var drmUUID: [UInt8]?
        /// The latest subject id.
        public var subjectId: String?
        /// The latest [K]'s install status (`nil`: none issued or not reported).
        public var certificateStatus: UInt8?
        /// The number of [K] issued.
        public var certificates: Int
        /// The latest verifier's status (`nil`: none or not reported).
        public var verifierStatus: UInt8?
        /// The number of verifiers made.
        public var verifiers: Int
        /// Whether the latest verifier's password is still undelivered.
        public var passwordPending: Bool
        /// The lifecycle state of the latest verifier's password.
        public var passwordState: PasswordState
        /// The user bound to the VIN (`ctl register-owner`), if any.
        public var owner: String?
        /// Last accepted V2C counter.
        public var v2cCounter: UInt32?
        /// Last sent C2V counter.
        public var c2vCounter: UInt32?
        /// The owner pairing as the VOS and the KTS know it (`nil`: nothing yet).
        public var ownerPairing: OwnerPairingRecord?
    }

    /// The ECUs, by serial.
    public var ecus: [ECULine]
}
