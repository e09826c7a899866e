/// Why bytes are not a well-formed cloud message (ICD 7.1, 7.2): status 1 malformed.
/// Every check of the decoder has its own case, so a log names the exact fault.
public enum CloudMessageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No bytes at all.
    case empty
    /// Longer than one ISO-TP PDU (4095 bytes).
    case tooLarge(count: Int)
    /// Fewer than 3 bytes left for a tag and length at `offset`.
    case truncatedHeader(offset: Int)
    /// The length field of `tag` promises more bytes than remain.
    case truncatedValue(tag: UInt8, declared: Int, available: Int)
    /// A tag outside the closed set of ICD 7.1.
    case unknownTag(UInt8)
    /// A tag that appears a second time.
    case duplicateTag(CloudTag)
    /// A tag lower than the one before it.
    case tagOutOfOrder(CloudTag, after: CloudTag)
    /// No signature TLV 0xFF.
    case missingSignature
    /// Bytes after the signature TLV, which must be last.
    case bytesAfterSignature(count: Int)
    /// A tag's value has a length outside its allowed range.
    case wrongLength(CloudTag, length: Int, allowed: ClosedRange<Int>)
    /// A text field with a byte outside printable ASCII (0x20…0x7E).
    case notASCII(CloudTag)
    /// Protocol version other than 1.
    case unsupportedVersion(UInt8)
    /// A message type outside ICD 7.2.
    case unknownMessageType(UInt8)
    /// A use case outside 3…7.
    case unknownUseCase(UInt8)
    /// A status outside ICD 7.5 (0…9).
    case unknownStatus(UInt8)
    /// A PP-03 reason outside 1…3.
    case unknownPP03Reason(UInt8)
    /// An owner pairing state outside ICD 3 byte 7 (0…3).
    case unknownOwnerPairingState(UInt8)
    /// A 0x0D whose owner key id 0x18 is present without a key in its state (0, 1) or
    /// absent with one (2, 3).
    case ownerKeyIDMismatch(state: OwnerPairingState, present: Bool)
    /// The message type TLV 0x01, which must come first, is absent.
    case missingMessageType
    /// A tag this message type must carry is absent.
    case missingTag(CloudTag, type: CloudMessageType)
    /// A tag this message type must not carry.
    case tagNotAllowed(CloudTag, type: CloudMessageType)
    /// A V2C type where a C2V message was expected, or the reverse.
    case wrongDirection(CloudMessageType)

    /// The fault in words.
    public var description: String {
        switch self {
        case .empty: return "empty message"
        case .tooLarge(let count): return "message of \(count) bytes exceeds \(CloudTLV.maximumMessageSize)"
        case .truncatedHeader(let offset): return "truncated TLV header at offset \(offset)"
        case .truncatedValue(let tag, let declared, let available):
            return "tag 0x\([tag].hexString) declares \(declared) bytes, \(available) left"
        case .unknownTag(let tag): return "unknown tag 0x\([tag].hexString)"
        case .duplicateTag(let tag): return "duplicate tag \(tag)"
        case .tagOutOfOrder(let tag, let previous): return "tag \(tag) after \(previous): tags must ascend"
        case .missingSignature: return "no signature TLV 0xFF"
        case .bytesAfterSignature(let count): return "\(count) bytes after the signature"
        case .wrongLength(let tag, let length, let allowed):
            let range = allowed.lowerBound == allowed.upperBound
                ? "\(allowed.lowerBound)" : "\(allowed.lowerBound)…\(allowed.upperBound)"
            return "tag \(tag) has \(length) bytes, allowed \(range)"
        case .notASCII(let tag): return "tag \(tag) is not printable ASCII"
        case .unsupportedVersion(let v): return "protocol version \(v), expected 1"
        case .unknownMessageType(let t): return "unknown message type 0x\([t].hexString)"
        case .unknownUseCase(let u): return "unknown use case \(u)"
        case .unknownStatus(let s): return "unknown status \(s)"
        case .unknownPP03Reason(let r): return "unknown PP-03 reason \(r)"
        case .unknownOwnerPairingState(let s): return "unknown owner pairing state \(s)"
        case .ownerKeyIDMismatch(let state, let present):
            return present ? "owner key id 0x18 with state \(state.rawValue) (\(state)), which has no key"
                : "no owner key id 0x18 with state \(state.rawValue) (\(state))"
        case .missingMessageType: return "no message type TLV 0x01"
        case .missingTag(let tag, let type): return "\(type) lacks tag \(tag)"
        case .tagNotAllowed(let tag, let type): return "\(type) must not carry tag \(tag)"
        case .wrongDirection(let type): return "\(type) travels \(type.direction == .vehicleToCloud ? "V2C" : "C2V")"
        }
    }
}
