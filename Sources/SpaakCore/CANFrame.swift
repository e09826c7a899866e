/// A CAN or CAN FD frame as it travels on the bus, independent of any socket API.
///
/// `id` is the 11-bit (standard) or 29-bit (extended) identifier. `data` holds the
/// payload: up to 8 bytes for classic CAN, up to 64 bytes (in one of the valid CAN FD
/// lengths) for CAN FD.
///
/// A payload of up to 64 bytes is kept inside the value (no heap allocation per frame: the
/// receive and transmit paths handle thousands of frames per ISO-TP message); `data` makes
/// an array of it on each read. Hot paths read the bytes in place with `dataCount`,
/// `withUnsafeData` and `byte(at:)`, and build frames with `init(id:count:...:initializingData:)`.
/// A longer (invalid) payload is kept as it was given, so `isValid` can refuse it.
public struct CANFrame: Hashable, Sendable, CustomStringConvertible {
    /// The arbitration identifier, without any flag bits.
    public var id: UInt32
    /// `true` for a 29-bit identifier.
    public var isExtended: Bool
    /// `true` for a CAN FD frame (FDF set).
    public var isFD: Bool
    /// `true` when a CAN FD frame uses bit-rate switching.
    public var bitRateSwitch: Bool

    // The storage is `@usableFromInline` so that the accessors below are inlined and
    // specialized where they are used (a generic call per frame costs more than the copy).

    /// The payload length when it is kept inline (0 when `overflow` holds it).
    @usableFromInline var inlineCount: UInt8
    /// The payload when inline; bytes from `inlineCount` on are always zero.
    @usableFromInline var inlineBytes: InlinePayload
    /// A payload longer than `inlineCapacity` (never valid on a bus), as given.
    @usableFromInline var overflow: [UInt8]?

    /// 64 payload bytes as eight words: a plain (trivial) value, so a frame is copied inline
    /// (a 64-element tuple was copied through the runtime's tuple metadata at every copy).
    @usableFromInline
    struct InlinePayload: Sendable {
        @usableFromInline var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0
        @usableFromInline var w4: UInt64 = 0, w5: UInt64 = 0, w6: UInt64 = 0, w7: UInt64 = 0
        @inlinable init() {}
    }
    @inlinable @inline(__always) static var zeroPayload: InlinePayload { InlinePayload() }

    /// The longest payload kept inside the value: a CAN FD frame's 64 bytes.
    @inlinable public static var inlineCapacity: Int { 64 }

    /// Creates a frame. The payload length is not checked here; see `isValid`.
    public init(id: UInt32, data: [UInt8], isExtended: Bool = false, isFD: Bool = false, bitRateSwitch: Bool = false) {
        self.id = id
        self.isExtended = isExtended
        self.isFD = isFD
        self.bitRateSwitch = bitRateSwitch
        inlineCount = 0
        inlineBytes = CANFrame.zeroPayload
        overflow = nil
        setData(data)
    }

    /// Creates a frame of `count` payload bytes written in place by `initializer` (which must
    /// set all of them; they start as zeros). No intermediate array: the hot path of ISO-TP.
    @inlinable
    public init(id: UInt32, count: Int, isExtended: Bool = false, isFD: Bool = false, bitRateSwitch: Bool = false,
                initializingData initializer: (UnsafeMutableBufferPointer<UInt8>) throws -> Void) rethrows {
        self.id = id
        self.isExtended = isExtended
        self.isFD = isFD
        self.bitRateSwitch = bitRateSwitch
        inlineCount = 0
        inlineBytes = CANFrame.zeroPayload
        overflow = nil
        let count = Swift.max(0, count)
        if count > CANFrame.inlineCapacity {
            var bytes = [UInt8](repeating: 0, count: count)
            try bytes.withUnsafeMutableBufferPointer { try initializer($0) }
            overflow = bytes
            return
        }
        inlineCount = UInt8(count)
        try withUnsafeMutableBytes(of: &inlineBytes) { raw in
            try raw.withMemoryRebound(to: UInt8.self) { bytes in
                try initializer(UnsafeMutableBufferPointer(rebasing: bytes[0..<count]))
            }
        }
    }

    /// The payload bytes (a new array on each read; see `withUnsafeData` for hot paths).
    public var data: [UInt8] {
        get {
            if let overflow { return overflow }
            return withUnsafeData { Array($0) }
        }
        set { setData(newValue) }
    }

    /// The payload length (CAN_DL), without making an array.
    @inlinable public var dataCount: Int { overflow?.count ?? Int(inlineCount) }

    /// The payload byte at `index` (`0 ..< dataCount`).
    @inlinable public func byte(at index: Int) -> UInt8 {
        precondition(index >= 0 && index < dataCount, "CANFrame.byte(at:) index out of range")
        if let overflow { return overflow[index] }
        return withUnsafeBytes(of: inlineBytes) { $0[index] }
    }

    /// Calls `body` with the payload bytes in place (valid only during the call).
    @inlinable
    public func withUnsafeData<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if let overflow { return try overflow.withUnsafeBufferPointer(body) }
        var bytes = inlineBytes
        let count = Int(inlineCount)
        return try withUnsafeBytes(of: &bytes) { raw in
            try raw.withMemoryRebound(to: UInt8.self) { bytes in try body(UnsafeBufferPointer(rebasing: bytes[0..<count])) }
        }
    }

    private mutating func setData(_ bytes: [UInt8]) {
        inlineBytes = CANFrame.zeroPayload
        guard bytes.count <= CANFrame.inlineCapacity else {
            inlineCount = 0
            overflow = bytes
            return
        }
        overflow = nil
        inlineCount = UInt8(bytes.count)
        withUnsafeMutableBytes(of: &inlineBytes) { target in
            bytes.withUnsafeBytes { source in target.copyMemory(from: source) }
        }
    }

    public static func == (a: CANFrame, b: CANFrame) -> Bool {
        a.id == b.id && a.isExtended == b.isExtended && a.isFD == b.isFD && a.bitRateSwitch == b.bitRateSwitch
            && a.dataCount == b.dataCount && a.withUnsafeData { x in b.withUnsafeData { y in x.elementsEqual(y) } }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(isExtended)
        hasher.combine(isFD)
        hasher.combine(bitRateSwitch)
        hasher.combine(dataCount)
        withUnsafeData { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// The CAN FD payload lengths above 8 bytes.
    public static let fdLengths: [Int] = [12, 16, 20, 24, 32, 48, 64]

    /// Whether `count` is one of `fdLengths` (without touching the array).
    @inline(__always)
    static func isFDLength(_ count: Int) -> Bool {
        switch count {
        case 12, 16, 20, 24, 32, 48, 64: return true
        default: return false
        }
    }

    /// The smallest valid frame length that holds `count` bytes (`count` itself up to 8).
    public static func validLength(atLeast count: Int) -> Int? {
        if count <= 8 { return count }
        return fdLengths.first { $0 >= count }
    }

    /// Whether the identifier and payload length are legal for this kind of frame.
    public var isValid: Bool {
        let idOK = isExtended ? id <= 0x1FFF_FFFF : id <= 0x7FF
        let count = dataCount
        let lengthOK = isFD ? (count <= 8 || CANFrame.isFDLength(count)) : count <= 8
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
