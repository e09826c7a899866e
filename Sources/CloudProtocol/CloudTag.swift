/// A TLV tag of a cloud message (ICD 7.1). The set is closed: any other tag is malformed.
public enum CloudTag: UInt8, Sendable, Hashable, CaseIterable, Comparable, CustomStringConvertible {
    /// 0x01 message type, 1 byte.
    case messageType = 0x01
    /// 0x02 protocol version (= 1), 1 byte.
    case version = 0x02
    /// 0x03 ECU serial number, ASCII, 1…32 bytes.
    case serial = 0x03
    /// 0x04 VIN, ASCII, 17 bytes.
    case vin = 0x04
    /// 0x05 transaction id, 16 bytes.
    case transactionID = 0x05
    /// 0x06 counter, big-endian, 4 bytes.
    case counter = 0x06
    /// 0x07 use case, 1 byte.
    case useCase = 0x07
    /// 0x10 subject id, ASCII, 1…64 bytes.
    case subjectID = 0x10
    /// 0x11 CSR, DER, not empty.
    case csr = 0x11
    /// 0x12 certificate, DER, not empty.
    case certificate = 0x12
    /// 0x13 status (ICD 7.5), 1 byte.
    case status = 0x13
    /// 0x14 drmUUID, 16 bytes.
    case drmUUID = 0x14
    /// 0x15 SPAKE2+ verifier record, 121 bytes.
    case verifierRecord = 0x15
    /// 0x16 PP-03 reason, 1 byte.
    case pp03Reason = 0x16
    /// 0x17 result code from the cloud, 1 byte.
    case resultCode = 0x17
    /// 0x18 owner key id (ICD 8.3: the first 8 bytes of SHA-256 of the endpoint key), 8 bytes.
    case ownerKeyID = 0x18
    /// 0x19 owner pairing state, as byte 7 of `SPAAK_Status` (ICD 3, 8.5), 1 byte.
    case ownerPairingState = 0x19
    /// 0x20 signer certificate, DER, not empty.
    case signerCertificate = 0x20
    /// 0xFF ECDSA P-256 / SHA-256 signature, DER, not empty; always last.
    case signature = 0xFF

    /// The allowed value lengths of this tag.
    public var allowedLengths: ClosedRange<Int> {
        switch self {
        case .messageType, .version, .useCase, .status, .pp03Reason, .resultCode, .ownerPairingState: return 1...1
        case .counter: return 4...4
        case .ownerKeyID: return 8...8
        case .transactionID, .drmUUID: return 16...16
        case .vin: return 17...17
        case .serial: return 1...32
        case .subjectID: return 1...64
        case .verifierRecord: return SpakeVerifierRecord.byteCount...SpakeVerifierRecord.byteCount
        case .csr, .certificate, .signerCertificate, .signature: return 1...CloudTLV.maximumMessageSize
        }
    }

    /// Whether the value is ASCII text (printable, 0x20…0x7E).
    public var isASCII: Bool { self == .serial || self == .vin || self == .subjectID }

    /// Orders tags by their byte, the order they must appear in.
    public static func < (a: CloudTag, b: CloudTag) -> Bool { a.rawValue < b.rawValue }

    /// The tag in hex and its field name, e.g. `0x05 transaction id`.
    public var description: String {
        let hex = "0x" + [rawValue].hexString
        switch self {
        case .messageType: return hex + " message type"
        case .version: return hex + " protocol version"
        case .serial: return hex + " ECU serial number"
        case .vin: return hex + " VIN"
        case .transactionID: return hex + " transaction id"
        case .counter: return hex + " counter"
        case .useCase: return hex + " use case"
        case .subjectID: return hex + " subject id"
        case .csr: return hex + " CSR"
        case .certificate: return hex + " certificate"
        case .status: return hex + " status"
        case .drmUUID: return hex + " drmUUID"
        case .verifierRecord: return hex + " SPAKE2+ verifier record"
        case .pp03Reason: return hex + " PP-03 reason"
        case .resultCode: return hex + " result code"
        case .ownerKeyID: return hex + " owner key id"
        case .ownerPairingState: return hex + " owner pairing state"
        case .signerCertificate: return hex + " signer certificate"
        case .signature: return hex + " signature"
        }
    }
}

/// One tag-length-value element: tag 1 byte, length 2 bytes big-endian, value.
public struct CloudTLV: Sendable, Hashable {
    /// The raw tag byte (may be unknown when built by hand, e.g. in tests).
    public var tag: UInt8
    /// The value bytes.
    public var value: [UInt8]

    /// The largest message: one ISO-TP classic-addressing PDU (ICD 4), 4095 bytes.
    public static let maximumMessageSize = 4095

    /// Creates an element.
    public init(tag: UInt8, value: [UInt8]) {
        self.tag = tag
        self.value = value
    }

    /// Creates an element with a known tag.
    public init(_ tag: CloudTag, _ value: [UInt8]) {
        self.init(tag: tag.rawValue, value: value)
    }

    /// The element's bytes; the caller keeps `value` under 65536 bytes (checked by the encoders).
    public var bytes: [UInt8] {
        [tag, UInt8(truncatingIfNeeded: value.count >> 8), UInt8(truncatingIfNeeded: value.count)] + value
    }

    /// Concatenates elements as given, with no ordering or content check: the raw writer that
    /// `CloudMessage` uses after its own checks, and that tests use to build malformed input.
    public static func encode(_ elements: [CloudTLV]) -> [UInt8] {
        elements.flatMap(\.bytes)
    }
}
