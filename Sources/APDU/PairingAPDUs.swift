/// The owner-pairing profile of ICD section 8.3: the commands the module sends to the device
/// and the response data each one expects. Both sides use it: the module builds commands and
/// checks responses, the phone simulator parses commands and builds responses.
public enum PairingCommand: Hashable, Sendable {
    /// SELECT `00 A4 04 00` with the DK applet's AID (raw, no TLV).
    case select
    /// SPAKE2+ REQUEST `80 30 00 00`: the verifier parameters (phase 2 step 2).
    case spake2Request(SPAKE2RequestParameters)
    /// SPAKE2+ VERIFY `80 32 00 00`: shareV (52) and confirmV (57).
    case spake2Verify(shareV: [UInt8], confirmV: [UInt8])
    /// WRITE DATA `80 D4 00 00`: tag 70, encrypted { 71 [K], 72 [J1] }.
    case writeData(encrypted: [UInt8])
    /// GET DATA `80 CA 00 00`, no data.
    case getData
    /// AUTH0 `80 80 00 00`: vehicle ephemeral key (87) and transaction id (4C).
    case auth0(vehicleEphemeralKey: [UInt8], transactionID: [UInt8])
    /// AUTH1 `80 81 00 00`: the vehicle's signature (9E, DER).
    case auth1(vehicleSignature: [UInt8])

    /// The application identifier that SELECT carries.
    public static let aid: [UInt8] = [0xA0, 0x00, 0x00, 0x08, 0x09, 0x43, 0x43, 0x43, 0x44, 0x4B, 0x41, 0x76, 0x31]
    /// Protocol version 1.0 (`0100`), the only one this profile speaks.
    public static let version: [UInt8] = [0x01, 0x00]

    /// The command APDU.
    public var apdu: CommandAPDU {
        switch self {
        case .select:
            return CommandAPDU(cla: 0x00, ins: Instruction.select, p1: 0x04, data: Self.aid)
        case .spake2Request(let parameters):
            return CommandAPDU(cla: 0x80, ins: Instruction.spake2Request, data: parameters.tlv.bytes)
        case .spake2Verify(let shareV, let confirmV):
            return CommandAPDU(cla: 0x80, ins: Instruction.spake2Verify,
                               data: BERTLV([(PairingTag.shareV, shareV), (PairingTag.confirmV, confirmV)]).bytes)
        case .writeData(let encrypted):
            return CommandAPDU(cla: 0x80, ins: Instruction.writeData, data: BERTLV([(PairingTag.encrypted, encrypted)]).bytes)
        case .getData:
            return CommandAPDU(cla: 0x80, ins: Instruction.getData)
        case .auth0(let key, let transactionID):
            return CommandAPDU(cla: 0x80, ins: Instruction.auth0,
                               data: BERTLV([(PairingTag.vehicleEphemeralKey, key), (PairingTag.transactionID, transactionID)]).bytes)
        case .auth1(let signature):
            return CommandAPDU(cla: 0x80, ins: Instruction.auth1, data: BERTLV([(PairingTag.signature, signature)]).bytes)
        }
    }

    /// Parses a command (the device's side); anything outside the profile is malformed.
    public init(apdu: CommandAPDU) throws(APDUError) {
        switch (apdu.cla, apdu.ins, apdu.p1, apdu.p2) {
        case (0x00, Instruction.select, 0x04, 0x00):
            guard apdu.data == Self.aid else { throw .malformed("unknown AID") }
            self = .select
        case (0x80, Instruction.spake2Request, 0, 0):
            self = .spake2Request(try SPAKE2RequestParameters(tlv: try BERTLV(parsing: apdu.data)))
        case (0x80, Instruction.spake2Verify, 0, 0):
            let tlv = try BERTLV(parsing: apdu.data)
            try tlv.requireTags([PairingTag.shareV, PairingTag.confirmV])
            self = .spake2Verify(shareV: try tlv.value(PairingTag.shareV, size: 65),
                                 confirmV: try tlv.value(PairingTag.confirmV, size: 32))
        case (0x80, Instruction.writeData, 0, 0):
            let tlv = try BERTLV(parsing: apdu.data)
            try tlv.requireTags([PairingTag.encrypted])
            self = .writeData(encrypted: try tlv.value(PairingTag.encrypted, sizes: 17...65535))
        case (0x80, Instruction.getData, 0, 0):
            guard apdu.data.isEmpty else { throw .malformed("GET DATA carries no data") }
            self = .getData
        case (0x80, Instruction.auth0, 0, 0):
            let tlv = try BERTLV(parsing: apdu.data)
            try tlv.requireTags([PairingTag.vehicleEphemeralKey, PairingTag.transactionID])
            self = .auth0(vehicleEphemeralKey: try tlv.value(PairingTag.vehicleEphemeralKey, size: 65),
                          transactionID: try tlv.value(PairingTag.transactionID, size: 16))
        case (0x80, Instruction.auth1, 0, 0):
            let tlv = try BERTLV(parsing: apdu.data)
            try tlv.requireTags([PairingTag.signature])
            self = .auth1(vehicleSignature: try tlv.value(PairingTag.signature, sizes: PairingTag.signatureSizes))
        default:
            throw .malformed("unknown command \(apdu)")
        }
    }

    /// A short name for logs.
    public var name: String {
        switch self {
        case .select: return "SELECT"
        case .spake2Request: return "SPAKE2+ REQUEST"
        case .spake2Verify: return "SPAKE2+ VERIFY"
        case .writeData: return "WRITE DATA"
        case .getData: return "GET DATA"
        case .auth0: return "AUTH0"
        case .auth1: return "AUTH1"
        }
    }

    /// The instruction bytes.
    public enum Instruction {
        public static let select: UInt8 = 0xA4
        public static let spake2Request: UInt8 = 0x30
        public static let spake2Verify: UInt8 = 0x32
        public static let writeData: UInt8 = 0xD4
        public static let getData: UInt8 = 0xCA
        public static let auth0: UInt8 = 0x80
        public static let auth1: UInt8 = 0x81
    }
}

/// The BER-TLV tags of ICD 8.3.
public enum PairingTag {
    public static let versions: UInt8 = 0x5C
    public static let version: UInt8 = 0x5B
    public static let salt: UInt8 = 0xC0
    public static let scryptN: UInt8 = 0xC1
    public static let scryptR: UInt8 = 0xC2
    public static let scryptP: UInt8 = 0xC3
    public static let vin: UInt8 = 0xC4
    public static let shareP: UInt8 = 0x50
    public static let shareV: UInt8 = 0x52
    public static let confirmV: UInt8 = 0x57
    public static let confirmP: UInt8 = 0x58
    public static let encrypted: UInt8 = 0x70
    public static let vehicleCertificate: UInt8 = 0x71
    public static let subCACertificate: UInt8 = 0x72
    public static let endpointKey: UInt8 = 0x73
    public static let friendlyName: UInt8 = 0x75
    public static let vehicleEphemeralKey: UInt8 = 0x87
    public static let transactionID: UInt8 = 0x4C
    public static let deviceEphemeralKey: UInt8 = 0x86
    public static let signature: UInt8 = 0x9E
    /// The sizes of a DER ECDSA P-256 signature.
    public static let signatureSizes: ClosedRange<Int> = 8...72
    /// The longest friendly name, in UTF-8 bytes.
    public static let friendlyNameMaxBytes = 32
}

/// The data of SPAKE2+ REQUEST: version (5B), salt (C0, 16), scrypt N (C1, 4), r (C2, 2),
/// p (C3, 2), VIN (C4, 17), big-endian integers.
public struct SPAKE2RequestParameters: Hashable, Sendable {
    public var salt: [UInt8]
    public var n: UInt32
    public var r: UInt16
    public var p: UInt16
    public var vin: [UInt8]

    /// Creates the parameters.
    public init(salt: [UInt8], n: UInt32, r: UInt16, p: UInt16, vin: [UInt8]) {
        self.salt = salt
        self.n = n
        self.r = r
        self.p = p
        self.vin = vin
    }

    /// The TLV encoding.
    public var tlv: BERTLV {
        BERTLV([(PairingTag.version, PairingCommand.version), (PairingTag.salt, salt),
                (PairingTag.scryptN, [UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)]),
                (PairingTag.scryptR, [UInt8(r >> 8), UInt8(r & 0xFF)]),
                (PairingTag.scryptP, [UInt8(p >> 8), UInt8(p & 0xFF)]), (PairingTag.vin, vin)])
    }

    /// Parses the TLVs strictly.
    public init(tlv: BERTLV) throws(APDUError) {
        try tlv.requireTags([PairingTag.version, PairingTag.salt, PairingTag.scryptN, PairingTag.scryptR,
                             PairingTag.scryptP, PairingTag.vin])
        guard try tlv.value(PairingTag.version, size: 2) == PairingCommand.version else { throw .malformed("unknown version") }
        let n = try tlv.value(PairingTag.scryptN, size: 4)
        let r = try tlv.value(PairingTag.scryptR, size: 2)
        let p = try tlv.value(PairingTag.scryptP, size: 2)
        self.init(salt: try tlv.value(PairingTag.salt, size: 16),
                  n: n.reduce(0) { $0 << 8 | UInt32($1) }, r: UInt16(r[0]) << 8 | UInt16(r[1]),
                  p: UInt16(p[0]) << 8 | UInt16(p[1]), vin: try tlv.value(PairingTag.vin, size: 17))
    }
}

/// The response data the module expects for each command, parsed strictly (exact tags, exact
/// sizes). Each parser throws `APDUError.malformed` for anything else.
public enum PairingResponse {
    /// SELECT: the supported versions (5C, 2 bytes each, at least one).
    public static func versions(_ data: [UInt8]) throws(APDUError) -> [[UInt8]] {
        let tlv = try BERTLV(parsing: data)
        try tlv.requireTags([PairingTag.versions])
        let list = try tlv.value(PairingTag.versions, sizes: 2...254)
        guard list.count % 2 == 0 else { throw .malformed("versions are 2 bytes each") }
        return stride(from: 0, to: list.count, by: 2).map { Array(list[$0..<($0 + 2)]) }
    }

    /// SPAKE2+ REQUEST: shareP (50, 65 bytes; the caller validates the point).
    public static func shareP(_ data: [UInt8]) throws(APDUError) -> [UInt8] {
        try single(PairingTag.shareP, data, sizes: 65...65)
    }

    /// SPAKE2+ VERIFY: confirmP (58, 32 bytes).
    public static func confirmP(_ data: [UInt8]) throws(APDUError) -> [UInt8] {
        try single(PairingTag.confirmP, data, sizes: 32...32)
    }

    /// GET DATA: the encrypted object (70).
    public static func encrypted(_ data: [UInt8]) throws(APDUError) -> [UInt8] {
        try single(PairingTag.encrypted, data, sizes: 17...65535)
    }

    /// The decrypted content of GET DATA: endpoint key (73, 65) and friendly name (75, ≤ 32 bytes of UTF-8).
    public static func endpoint(_ plaintext: [UInt8]) throws(APDUError) -> (key: [UInt8], friendlyName: String) {
        let tlv = try BERTLV(parsing: plaintext)
        try tlv.requireTags([PairingTag.endpointKey, PairingTag.friendlyName])
        let key = try tlv.value(PairingTag.endpointKey, size: 65)
        let nameBytes = try tlv.value(PairingTag.friendlyName, sizes: 0...PairingTag.friendlyNameMaxBytes)
        guard let name = String(validating: nameBytes, as: UTF8.self) else { throw .malformed("friendly name is not UTF-8") }
        return (key, name)
    }

    /// AUTH0: the device ephemeral key (86, 65 bytes).
    public static func deviceEphemeralKey(_ data: [UInt8]) throws(APDUError) -> [UInt8] {
        try single(PairingTag.deviceEphemeralKey, data, sizes: 65...65)
    }

    /// AUTH1: the device signature (9E, DER).
    public static func deviceSignature(_ data: [UInt8]) throws(APDUError) -> [UInt8] {
        try single(PairingTag.signature, data, sizes: PairingTag.signatureSizes)
    }

    private static func single(_ tag: UInt8, _ data: [UInt8], sizes: ClosedRange<Int>) throws(APDUError) -> [UInt8] {
        let tlv = try BERTLV(parsing: data)
        try tlv.requireTags([tag])
        return try tlv.value(tag, sizes: sizes)
    }
}
