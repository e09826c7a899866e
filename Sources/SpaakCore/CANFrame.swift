/// A CAN or CAN FD frame as it travels on the bus, independent of any socket API.
///
/// `id` is the 11-bit (standard) or 29-bit (extended) identifier. `data` holds the
/// payload: up to 8 bytes for classic CAN, up to 64 bytes (in one of the valid CAN FD
/// lengths) for CAN FD.
public struct CANFrame: Hashable, Sendable, CustomStringConvertible {
    /// The arbitration identifier, without any flag bits.
    public var id: UInt32
    /// `true` for a 29-bit identifier.
    public var isExtended: Bool
    /// `true` for a CAN FD frame (FDF set).
    public var isFD: Bool
    /// `true` when a CAN FD frame uses bit-rate switching.
    public var bitRateSwitch: Bool
    /// The payload bytes.
    public var data: [UInt8]

    /// Creates a frame. The payload length is not checked here; see `isValid`.
    public init(id: UInt32, data: [UInt8], isExtended: Bool = false, isFD: Bool = false, bitRateSwitch: Bool = false) {
        self.id = id
        self.data = data
        self.isExtended = isExtended
        self.isFD = isFD
        self.bitRateSwitch = bitRateSwitch
    }

    /// The CAN FD payload lengths above 8 bytes.
    public static let fdLengths: [Int] = [12, 16, 20, 24, 32, 48, 64]

    /// The smallest valid frame length that holds `count` bytes (`count` itself up to 8).
    public static func validLength(atLeast count: Int) -> Int? {
        if count <= 8 { return count }
        return fdLengths.first { $0 >= count }
    }

    /// Whether the identifier and payload length are legal for this kind of frame.
    public var isValid: Bool {
        let idOK = isExtended ? id <= 0x1FFF_FFFF : id <= 0x7FF
        let lengthOK = isFD ? (data.count <= 8 || CANFrame.fdLengths.contains(data.count)) : data.count <= 8
        return idOK && lengthOK
    }

    /// candump-style text: `3A8#0102...` (`##` for FD, with the flags nibble).
    public var description: String {
        let idText = isExtended ? String(format8: id, width: 8) : String(format8: id, width: 3)
        let payload = data.hexString
        if isFD { return "\(idText)##\(bitRateSwitch ? 1 : 0)\(payload)" }
        return "\(idText)#\(payload)"
    }
}

extension String {
    /// Upper-case hexadecimal of `value`, zero-padded to `width` digits.
    init(format8 value: UInt32, width: Int) {
        let digits = String(value, radix: 16, uppercase: true)
        let padding = String(repeating: "0", count: Swift.max(0, width - digits.count))
        self = padding + digits
    }
}

extension CANFrame {
    /// An 11-bit identifier written in hex, as on a command line or in can-utils
    /// (`7A0`, `0x7A0`); `nil` when the text is not one.
    public static func standardIdentifier(hex text: String) -> UInt32? {
        let digits = text.hasPrefix("0x") || text.hasPrefix("0X") ? String(text.dropFirst(2)) : text
        guard let value = UInt32(digits, radix: 16), value <= 0x7FF else { return nil }
        return value
    }

    /// An identifier in upper-case hex without padding or prefix (`7A0`), for logs and
    /// messages; the inverse of `standardIdentifier(hex:)`.
    public static func hexText(_ id: UInt32) -> String { String(id, radix: 16, uppercase: true) }
}
