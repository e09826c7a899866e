/// Hexadecimal formatting and parsing of byte sequences, for logs, options and tests.
extension Sequence where Element == UInt8 {
    /// Upper-case hexadecimal, no separators: `[0x50, 0x03]` → `"5003"`.
    public var hexString: String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Array where Element == UInt8 {
    /// Parses hexadecimal text (spaces, `:` and a `0x` prefix allowed); `nil` if malformed.
    public init?(hex text: String) {
        var s = Substring(text)
        if s.hasPrefix("0x") || s.hasPrefix("0X") { s = s.dropFirst(2) }
        let cleaned = s.filter { $0 != " " && $0 != ":" }
        guard cleaned.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(cleaned.count / 2)
        var index = cleaned.startIndex
        while index < cleaned.endIndex {
            let next = cleaned.index(index, offsetBy: 2)
            guard let byte = UInt8(cleaned[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self = bytes
    }

    /// Big-endian integer from `count` bytes at `offset`; the caller checks bounds.
    public func bigEndianInteger(at offset: Int, count: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in offset..<(offset + count) { value = value << 8 | UInt64(self[i]) }
        return value
    }
}

extension FixedWidthInteger {
    /// The value's bytes, most significant first.
    public var bigEndianBytes: [UInt8] {
        (0..<(Self.bitWidth / 8)).reversed().map { UInt8(truncatingIfNeeded: self >> ($0 * 8)) }
    }
}
