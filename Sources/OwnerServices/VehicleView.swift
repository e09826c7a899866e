import CloudSimulator
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One vehicle (one SpaaK module) as the VOS sees it: the OpenAPI schema `Vehicle`. Property
/// names are the JSON names; required nullable fields are encoded as explicit `null`.
public struct VehicleView: Codable, Sendable, Equatable {
    /// Plant data: when the ECU identity certificate was registered.
    public struct Plant: Codable, Sendable, Equatable {
        /// When the ECU identity certificate was registered.
        public var ecuRegisteredAt: Date

        /// Creates the plant data.
        public init(ecuRegisteredAt: Date) { self.ecuRegisteredAt = ecuRegisteredAt }
    }

    /// PP-01: the vehicle identity certificate [K].
    public struct VehicleIdentity: Codable, Sendable, Equatable {
        /// `none` (never issued), `issued` (no status yet), `installed` (status 0), `failed`.
        public enum State: String, Codable, Sendable, Equatable, CaseIterable, CustomStringConvertible {
            case none, issued, installed, failed
            /// The raw value.
            public var description: String { rawValue }
        }
        /// The latest certificate's state.
        public var state: State
        /// How many were issued.
        public var certificates: Int
        /// The vehicle's last VehicleIdentityCertStatus.
        public var status: Int?

        /// Creates the view.
        public init(state: State, certificates: Int, status: Int?) {
            self.state = state
            self.certificates = certificates
            self.status = status
        }

        /// Encodes `status` as `null` when absent.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(state, forKey: .state)
            try c.encode(certificates, forKey: .certificates)
            try c.encode(status, forKey: .status)
        }
    }

    /// PP-02/PP-03: the SPAKE2+ verifier.
    public struct Verifier: Codable, Sendable, Equatable {
        /// `none`, `sent` (no status yet), `installed` (status 0), `failed`, `revoked`,
        /// `consumed` (the owner paired with its password).
        public enum State: String, Codable, Sendable, Equatable, CaseIterable, CustomStringConvertible {
            case none, sent, installed, failed, revoked, consumed
            /// The raw value.
            public var description: String { rawValue }
        }
        /// The latest verifier's state.
        public var state: State
        /// How many were made.
        public var count: Int
        /// The vehicle's last Spake2VerifierStatus for it.
        public var status: Int?

        /// Creates the view.
        public init(state: State, count: Int, status: Int?) {
            self.state = state
            self.count = count
            self.status = status
        }

        /// Encodes `status` as `null` when absent.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(state, forKey: .state)
            try c.encode(count, forKey: .count)
            try c.encode(status, forKey: .status)
        }
    }

    /// The current verifier's pairing password (never the password itself).
    public struct Password: Codable, Sendable, Equatable {
        /// The lifecycle state.
        public var state: PasswordState
        /// The delivery channel (`nil`: none chosen, or the operator's).
        public var channel: DeliveryChannel?
        /// When it was delivered.
        public var deliveredAt: Date?

        /// Creates the view.
        public init(state: PasswordState, channel: DeliveryChannel?, deliveredAt: Date?) {
            self.state = state
            self.channel = channel
            self.deliveredAt = deliveredAt
        }

        /// Encodes absent values as `null`.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(state, forKey: .state)
            try c.encode(channel, forKey: .channel)
            try c.encode(deliveredAt, forKey: .deliveredAt)
        }
    }

    /// ICD 8.5: the vehicle's OwnerPairingStatus reports and the KTS's owner key.
    public struct OwnerPairing: Codable, Sendable, Equatable {
        /// `unknown` (no report yet) or the last 0x0D's state.
        public enum State: String, Codable, Sendable, Equatable, CaseIterable, CustomStringConvertible {
            case unknown
            case noOwnerKey = "no-owner-key"
            case windowOpen = "window-open"
            case ownerKeyPending = "owner-key-pending"
            case ownerKeyActive = "owner-key-active"
            /// The raw value.
            public var description: String { rawValue }
        }
        /// The last reported state.
        public var state: State
        /// The owner key id of the last 0x0D (hex).
        public var ownerKeyId: String?
        /// The KTS's active owner key (hex).
        public var activeOwnerKeyId: String?
        /// The last owner key the KTS terminated (hex).
        public var terminatedOwnerKeyId: String?
        /// When the last 0x0D was recorded.
        public var updatedAt: Date?
        /// When the last 0x0E was pushed.
        public var modeRequestedAt: Date?
        /// When the vehicle answered it.
        public var modeAnsweredAt: Date?

        /// Creates the view.
        public init(state: State, ownerKeyId: String? = nil, activeOwnerKeyId: String? = nil, terminatedOwnerKeyId: String? = nil,
                    updatedAt: Date? = nil, modeRequestedAt: Date? = nil, modeAnsweredAt: Date? = nil) {
            self.state = state
            self.ownerKeyId = ownerKeyId
            self.activeOwnerKeyId = activeOwnerKeyId
            self.terminatedOwnerKeyId = terminatedOwnerKeyId
            self.updatedAt = updatedAt
            self.modeRequestedAt = modeRequestedAt
            self.modeAnsweredAt = modeAnsweredAt
        }

        /// Encodes absent values as `null`.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(state, forKey: .state)
            try c.encode(ownerKeyId, forKey: .ownerKeyId)
            try c.encode(activeOwnerKeyId, forKey: .activeOwnerKeyId)
            try c.encode(terminatedOwnerKeyId, forKey: .terminatedOwnerKeyId)
            try c.encode(updatedAt, forKey: .updatedAt)
            try c.encode(modeRequestedAt, forKey: .modeRequestedAt)
            try c.encode(modeAnsweredAt, forKey: .modeAnsweredAt)
        }
    }

    /// The last V2C message the VOS handled for this vehicle.
    public struct LastUseCase: Codable, Sendable, Equatable {
        /// Accepted, or refused with an ErrorResponse.
        public enum Outcome: String, Codable, Sendable, Equatable, CaseIterable, CustomStringConvertible {
            case accepted, refused
            /// The raw value.
            public var description: String { rawValue }
        }
        /// `SP-02`, `PP-01`, `PP-02`, `PP-03`, `OP`.
        public var useCase: String
        /// The message's name.
        public var message: String
        /// When the VOS handled it.
        public var at: Date
        /// Accepted or refused.
        public var outcome: Outcome
        /// Why it was refused.
        public var error: String?

        /// Creates the view.
        public init(useCase: String, message: String, at: Date, outcome: Outcome, error: String?) {
            self.useCase = useCase
            self.message = message
            self.at = at
            self.outcome = outcome
            self.error = error
        }

        /// Encodes `error` as `null` when absent.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(useCase, forKey: .useCase)
            try c.encode(message, forKey: .message)
            try c.encode(at, forKey: .at)
            try c.encode(outcome, forKey: .outcome)
            try c.encode(error, forKey: .error)
        }
    }

    /// The module's serial.
    public var serial: String
    /// The VIN learnt from the vehicle (tag 0x04).
    public var vin: String?
    /// The user bound to the VIN.
    public var owner: String?
    /// Plant data.
    public var plant: Plant
    /// SP-02's drmUUID (hex).
    public var drmUUID: String?
    /// [K].
    public var vehicleIdentity: VehicleIdentity
    /// The verifier.
    public var verifier: Verifier
    /// The pairing password's state.
    public var password: Password
    /// Owner pairing.
    public var ownerPairing: OwnerPairing
    /// [K] and a verifier installed in the vehicle: a password can be delivered.
    public var serviceProvisioned: Bool
    /// The last V2C message handled.
    public var lastUseCase: LastUseCase?

    /// Creates the view.
    public init(serial: String, vin: String?, owner: String?, plant: Plant, drmUUID: String?, vehicleIdentity: VehicleIdentity,
                verifier: Verifier, password: Password, ownerPairing: OwnerPairing, serviceProvisioned: Bool,
                lastUseCase: LastUseCase?) {
        self.serial = serial
        self.vin = vin
        self.owner = owner
        self.plant = plant
        self.drmUUID = drmUUID
        self.vehicleIdentity = vehicleIdentity
        self.verifier = verifier
        self.password = password
        self.ownerPairing = ownerPairing
        self.serviceProvisioned = serviceProvisioned
        self.lastUseCase = lastUseCase
    }

    /// Encodes the required nullable fields (`vin`, `owner`, `drmUUID`, `lastUseCase`) as
    /// explicit `null` when absent.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(serial, forKey: .serial)
        try c.encode(vin, forKey: .vin)
        try c.encode(owner, forKey: .owner)
        try c.encode(plant, forKey: .plant)
        try c.encode(drmUUID, forKey: .drmUUID)
        try c.encode(vehicleIdentity, forKey: .vehicleIdentity)
        try c.encode(verifier, forKey: .verifier)
        try c.encode(password, forKey: .password)
        try c.encode(ownerPairing, forKey: .ownerPairing)
        try c.encode(serviceProvisioned, forKey: .serviceProvisioned)
        try c.encode(lastUseCase, forKey: .lastUseCase)
    }
}

/// The caller's vehicles (schema `VehicleList`), oldest binding first.
public struct VehicleList: Codable, Sendable, Equatable {
    /// The vehicles.
    public var vehicles: [VehicleView]

    /// Creates the list.
    public init(vehicles: [VehicleView]) { self.vehicles = vehicles }
}

/// Every vehicle the VOS knows (schema `Fleet`), by serial.
public struct FleetView: Codable, Sendable, Equatable {
    /// How many.
    public var count: Int
    /// The vehicles.
    public var vehicles: [VehicleView]

    /// Creates the view; `count` is the number of vehicles.
    public init(vehicles: [VehicleView]) {
        self.count = vehicles.count
        self.vehicles = vehicles
    }
}

/// A delivery channel of the owner services (the operator's is not one).
public enum DeliveryChannel: String, Codable, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// Handed to the app, confirmed by it.
    case app
    /// A one-time deep-link token, redeemed by the app.
    case link
    /// The raw value.
    public var description: String { rawValue }
}
