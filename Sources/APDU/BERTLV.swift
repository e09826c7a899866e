/// BER-TLV data objects as ICD section 8.3 uses them: one-byte tags and BER lengths
/// `00`...`7F`, `81 xx`, `82 xx xx`. Parsing is strict: a length longer than the data,
/// a length form other than these three, bytes after the last object, or a tag twice are
/// malformed (a device cannot smuggle a second value past a first check).
public struct BERTLV: Hashable, Sendable {
    /// The data objects in their order.
    public private(set) var objects: [(tag: UInt8, value: [UInt8])]

    /// Creates a list of objects (encoding order).
    public init(_ objects: [(tag: UInt8, value: [UInt8])]) {
        self.objects = objects
    }

    /// Parses `bytes` as a sequence of objects.
    public init(parsing bytes: [UInt8]) throws(APDUError) {
        var objects: [(tag: UInt8, value: [UInt8])] = []
        var index = 0
        var seen = Set<UInt8>()
        while index < bytes.count {
            let tag = bytes[index]
            index += 1
            guard index < bytes.count else { throw .malformed("tag \(hex([tag])) without a length") }
            var length = Int(bytes[index])
            index += 1
            switch length {
            case 0..<0x80:
                break
            case 0x81:
                guard index + 1 <= bytes.count else { throw .malformed("truncated length of tag \(hex([tag]))") }
                length = Int(bytes[index])
                index += 1
            case 0x82:
                guard index + 2 <= bytes.count else { throw .malformed("truncated length of tag \(hex([tag]))") }
                length = Int(bytes[index]) << 8 | Int(bytes[index + 1])
                index += 2
            default:
                throw .malformed("length form \(hex([UInt8(length)])) of tag \(hex([tag]))")
            }
            guard length <= bytes.count - index else {
                throw .malformed("tag \(hex([tag])) claims \(length) bytes, \(bytes.count - index) left")
            }
            guard seen.insert(tag).inserted else { throw .malformed("tag \(hex([tag])) twice") }
            objects.append((tag, Array(bytes[index..<(index + length)])))
            index += length
        }
        self.objects = objects
    }

    /// The value of `tag`, if present.
    public subscript(tag: UInt8) -> [UInt8]? {
        objects.first { $0.tag == tag }?.value
    }

    /// The value of `tag`; missing or of a size outside `sizes` is malformed.
    public func value(_ tag: UInt8, sizes: ClosedRange<Int> = 0...65535) throws(APDUError) -> [UInt8] {
        guard let value = self[tag] else { throw .malformed("tag \(hex([tag])) missing") }
        guard sizes.contains(value.count) else {
            throw .malformed("tag \(hex([tag])) has \(value.count) bytes, expected \(sizes.lowerBound)...\(sizes.upperBound)")
        }
        return value
    }

    /// The value of `tag`; missing or not exactly `size` bytes is malformed.
    public func value(_ tag: UInt8, size: Int) throws(APDUError) -> [UInt8] {
        try value(tag, sizes: size...size)
    }

    /// Fails unless the tags are exactly `tags` (in any order): no unknown object passes.
    public func requireTags(_ tags: Set<UInt8>) throws(APDUError) {
        let present = Set(objects.map(\.tag))
        guard present == tags else {
            throw .malformed("tags \(hex(present.sorted())), expected \(hex(tags.sorted()))")
        }
    }

    /// The encoding, with the shortest length form.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        for (tag, value) in objects {
            out.append(tag)
            out += Self.length(value.count)
            out += value
        }
        return out
    }

    /// The BER length bytes of `count` (at most 65535).
    public static func length(_ count: Int) -> [UInt8] {
        switch count {
        case 0..<0x80: return [UInt8(count)]
        case 0x80..<0x100: return [0x81, UInt8(count)]
        default: return [0x82, UInt8((count >> 8) & 0xFF), UInt8(count & 0xFF)]
        }
    }

    public static func == (lhs: BERTLV, rhs: BERTLV) -> Bool {
        lhs.objects.count == rhs.objects.count && zip(lhs.objects, rhs.objects).allSatisfy { $0.tag == $1.tag && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for (tag, value) in objects { hasher.combine(tag); hasher.combine(value) }
    }
}
