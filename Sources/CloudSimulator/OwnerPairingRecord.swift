#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What the VOS and the KTS know of a vehicle's owner pairing (ICD 8.5), one per ECU:
/// the vehicle's last OwnerPairingStatus 0x0D, the last OwnerPairingModeRequest 0x0E the
/// VOS pushed, and the KTS's owner key tracking (the active key, the last terminated one).
public struct OwnerPairingRecord: Sendable, Equatable {
    /// The ECU serial.
    public var serial: String

    /// Tag 0x19 of the last 0x0D (byte 7 of `SPAAK_Status`), `nil` before the first 0x0D.
    public var state: UInt8?
    /// Tag 0x18 of the last 0x0D (8 bytes), `nil` when it carried none.
    public var ownerKeyId: [UInt8]?
    /// Tag 0x13 of the last 0x0D (ICD 7.5).
    public var status: UInt8?
    /// The transaction id of the last 0x0D (a resent one repeats it).
    public var transactionId: [UInt8]?
    /// When the last 0x0D was recorded.
    public var updatedAt: Date?

    /// The transaction id of the last 0x0E pushed (the vehicle's 0x0D answer echoes it).
    public var modeRequestTransactionId: [UInt8]?
    /// When the last 0x0E was pushed.
    public var modeRequestedAt: Date?
    /// When the vehicle answered the last 0x0E, `nil` while unanswered.
    public var modeAnsweredAt: Date?

    /// The KTS: the owner key the vehicle reported active (a 0x0D with state 3), `nil`
    /// when none is (never reported, reported gone, or terminated).
    public var activeOwnerKeyId: [UInt8]?
    /// The KTS: the last owner key it terminated (0x0C).
    public var terminatedOwnerKeyId: [UInt8]?
    /// When the KTS terminated it.
    public var terminatedAt: Date?

    /// Creates a record with nothing known but the serial, or with the given fields.
    public init(serial: String, state: UInt8? = nil, ownerKeyId: [UInt8]? = nil, status: UInt8? = nil,
                transactionId: [UInt8]? = nil, updatedAt: Date? = nil, modeRequestTransactionId: [UInt8]? = nil,
                modeRequestedAt: Date? = nil, modeAnsweredAt: Date? = nil, activeOwnerKeyId: [UInt8]? = nil,
                terminatedOwnerKeyId: [UInt8]? = nil, terminatedAt: Date? = nil) {
        self.serial = serial
        self.state = state
        self.ownerKeyId = ownerKeyId
        self.status = status
        self.transactionId = transactionId
        self.updatedAt = updatedAt
        self.modeRequestTransactionId = modeRequestTransactionId
        self.modeRequestedAt = modeRequestedAt
        self.modeAnsweredAt = modeAnsweredAt
        self.activeOwnerKeyId = activeOwnerKeyId
        self.terminatedOwnerKeyId = terminatedOwnerKeyId
        self.terminatedAt = terminatedAt
    }
}
