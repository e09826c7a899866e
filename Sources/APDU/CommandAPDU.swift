/// A command APDU (ISO/IEC 7816-4) in the form of ICD section 8.3: always extended length,
/// `CLA INS P1 P2 00 Lc1 Lc2 data 00 00`, or `CLA INS P1 P2 00 00 00` without data.
public struct CommandAPDU: Hashable, Sendable, CustomStringConvertible {
    /// The class byte.
    public var cla: UInt8
    /// The instruction byte.
    public var ins: UInt8
    /// Parameter 1.
    public var p1: UInt8
    /// Parameter 2.
    public var p2: UInt8
    /// The command data (at most 65535 bytes).
    public var data: [UInt8]

    /// Creates a command.
    public init(cla: UInt8, ins: UInt8, p1: UInt8 = 0, p2: UInt8 = 0, data: [UInt8] = []) {
        self.cla = cla
        self.ins = ins
        self.p1 = p1
        self.p2 = p2
        self.data = data
    }

    /// The encoded bytes. With data: `Lc` as `00 Lc1 Lc2` and `Le = 00 00` (up to 65536 bytes
    /// expected); without data: `00 00 00` (extended Le only).
    public var bytes: [UInt8] {
        var out: [UInt8] = [cla, ins, p1, p2]
        if data.isEmpty {
            out += [0, 0, 0]
        } else {
            out += [0, UInt8(data.count >> 8), UInt8(data.count & 0xFF)]
            out += data
            out += [0, 0]
        }
        return out
    }

    /// Parses the encoding of `bytes`; only the two forms of ICD 8.3 are accepted.
    public init(bytes: [UInt8]) throws(APDUError) {
        guard bytes.count >= 7, bytes[4] == 0 else { throw .malformed("a command APDU needs the extended-length header") }
        let header = Array(bytes[0..<4])
        if bytes.count == 7 {
            guard bytes[5] == 0, bytes[6] == 0 else { throw .malformed("a command without data ends with 00 00 00") }
            self.init(cla: header[0], ins: header[1], p1: header[2], p2: header[3])
            return
        }
        let lc = Int(bytes[5]) << 8 | Int(bytes[6])
        guard lc > 0, bytes.count == 7 + lc + 2 else { throw .malformed("Lc \(lc) does not match \(bytes.count) bytes") }
        guard bytes[7 + lc] == 0, bytes[8 + lc] == 0 else { throw .malformed("Le must be 00 00") }
        self.init(cla: header[0], ins: header[1], p1: header[2], p2: header[3], data: Array(bytes[7..<(7 + lc)]))
    }

    public var description: String {
        "\(hex([cla, ins, p1, p2])) Lc=\(data.count)"
    }
}

/// A response APDU: `data SW1 SW2`.
public struct ResponseAPDU: Hashable, Sendable, CustomStringConvertible {
    /// The response data.
    public var data: [UInt8]
    /// The status word.
    public var status: StatusWord

    /// Creates a response.
    public init(data: [UInt8] = [], status: StatusWord = .success) {
        self.data = data
        self.status = status
    }

    /// The encoded bytes.
    public var bytes: [UInt8] { data + [UInt8(status.rawValue >> 8), UInt8(status.rawValue & 0xFF)] }

    /// Parses `data SW1 SW2`; fewer than 2 bytes is malformed.
    public init(bytes: [UInt8]) throws(APDUError) {
        guard bytes.count >= 2 else { throw .malformed("a response APDU needs SW1 SW2") }
        let sw = UInt16(bytes[bytes.count - 2]) << 8 | UInt16(bytes[bytes.count - 1])
        self.init(data: Array(bytes.dropLast(2)), status: StatusWord(rawValue: sw))
    }

    public var description: String { "\(status) (\(data.count) bytes)" }
}

/// A status word (SW1 SW2). The ones ICD 8.3 names have names; any other value is kept.
public struct StatusWord: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The two bytes, SW1 high.
    public var rawValue: UInt16
    /// Creates a status word.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `90 00`: success.
    public static let success = StatusWord(rawValue: 0x9000)
    /// `69 82`: security status not satisfied (confirmV or a signature did not verify).
    public static let securityStatusNotSatisfied = StatusWord(rawValue: 0x6982)
    /// `6A 80`: wrong data.
    public static let wrongData = StatusWord(rawValue: 0x6A80)
    /// `69 85`: conditions of use not satisfied (a command out of order).
    public static let conditionsNotSatisfied = StatusWord(rawValue: 0x6985)

    public var description: String { hex([UInt8(rawValue >> 8), UInt8(rawValue & 0xFF)]) }
}

/// Why an APDU or its BER-TLV data could not be read.
public enum APDUError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The bytes do not follow the encoding; the text says where.
    case malformed(String)

    public var description: String {
        switch self {
        case .malformed(let why): return "malformed: \(why)"
        }
    }
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789ABCDEF")
    return bytes.map { String([digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]]) }.joined(separator: " ")
}
