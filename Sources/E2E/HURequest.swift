import SpaakCore

/// `HU_Request` (CAN id 0x3C0, ICD section 8.1): an event frame of the head unit with the E2E
/// layout of section 3; byte 2 = 0x01 asks to start owner pairing (OP-02).
public enum HURequest: UInt8, Hashable, Sendable, CaseIterable {
    /// Start owner pairing: open the pairing window.
    case startOwnerPairing = 0x01

    /// The default CAN id of `HU_Request`; also its E2E data id.
    public static let defaultCANID: UInt32 = 0x3C0

    /// One protected frame carrying this request with `counter`.
    public func frame(canID: UInt32 = HURequest.defaultCANID, counter: UInt8) -> CANFrame {
        CANFrame(id: canID, data: E2EProfile.protect(dataID: UInt16(truncatingIfNeeded: canID), counter: counter,
                                                     signals: [rawValue]))
    }
}

/// The receiver of `HU_Request`: the receiver rules of `TBM_Status` (a wrong length, CRC or
/// counter 15 is discarded and counted), and a request repeating the counter of the previous
/// one that passed those checks is discarded (ICD 8.1). * An unknown request code is counted
/// and ignored.
public struct HURequestReceiver: Hashable, Sendable {
    /// Reception statistics: the E2E counts (`counters.discardedCRC`, `.repeated`, ...) and
    /// the requests.
    @dynamicMemberLookup
    public struct Counters: Hashable, Sendable {
        /// The E2E counts of every frame looked at.
        public var reception = E2EReceptionCounters()
        /// Valid frames with an unknown request code.
        public var unknownRequest = 0
        /// Requests accepted.
        public var accepted: Int { reception.valid - unknownRequest }
        /// Creates zeroed counters.
        public init() {}
        /// The E2E counts, by name.
        public subscript<T>(dynamicMember keyPath: KeyPath<E2EReceptionCounters, T>) -> T { reception[keyPath: keyPath] }
    }

    /// The CAN id and E2E data id (default 0x3C0).
    public let canID: UInt32
    /// Reception statistics.
    public private(set) var counters = Counters()
    private var previousCounter: UInt8?

    /// Creates a receiver that has seen no request.
    public init(canID: UInt32 = HURequest.defaultCANID) {
        self.canID = canID
    }

    /// Checks one received frame; returns the request it carries, or `nil` when it is discarded.
    public mutating func receive(_ frame: CANFrame) -> HURequest? {
        guard frame.id == canID, !frame.isExtended else { return nil }
        let status = E2EProfile.check(dataID: UInt16(truncatingIfNeeded: canID), data: frame.data,
                                      previousCounter: previousCounter)
        guard counters.reception.count(status) else { return nil }
        previousCounter = E2EProfile.counter(of: frame.data)
        guard let request = HURequest(rawValue: frame.data[2]) else {
            counters.unknownRequest += 1
            return nil
        }
        return request
    }
}
