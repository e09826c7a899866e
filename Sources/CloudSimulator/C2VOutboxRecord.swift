#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A C2V push waiting for its vehicle's TBM connection (the VOS service's outbox): written in
/// the transaction that decided the push (with `CloudStore.announce(serial:)`), sent by the VOS
/// instance that holds the vehicle's connection, deleted when the module's answer arrives
/// (`PushAnswer`) or when its sends are used up.
public struct C2VOutboxRecord: Sendable, Equatable {
    /// Row id (`nil` before insertion).
    public var id: Int64?
    /// The ECU the message is for.
    public var serial: String
    /// The complete ICD 7 message, signed and ready for the bus.
    public var bytes: [UInt8]
    /// When it was queued.
    public var createdAt: Date

    /// Creates a record.
    public init(id: Int64? = nil, serial: String, bytes: [UInt8], createdAt: Date) {
        self.id = id
        self.serial = serial
        self.bytes = bytes
        self.createdAt = createdAt
    }
}
