import SpaakCore

/// The knobs of the simulated Vehicle OEM Server.
public struct VOSConfiguration: Sendable, Equatable {
    /// scrypt cost N of new verifiers (a power of two; ICD 7.6's test vector uses 4096).
    public var scryptN: UInt32
    /// scrypt block size r.
    public var scryptR: UInt16
    /// scrypt parallelism p.
    public var scryptP: UInt16
    /// Digits of a generated pairing password.
    public var passwordDigits: Int
    /// Validity of an issued [K], in days (never beyond [J1]).
    public var certificateValidityDays: Int

    /// Creates a configuration; the defaults are N = 32768, r = 8, p = 1, 8-digit passwords
    /// and [K] valid for 10 years.
    public init(scryptN: UInt32 = 32768, scryptR: UInt16 = 8, scryptP: UInt16 = 1, passwordDigits: Int = 8,
                certificateValidityDays: Int = 3650) {
        self.scryptN = scryptN
        self.scryptR = scryptR
        self.scryptP = scryptP
        self.passwordDigits = passwordDigits
        self.certificateValidityDays = certificateValidityDays
    }
}

/// The random values the VOS makes, from an injected source of random bytes.
enum VOSRandom {
    /// A vehicle identity subject id: 16 upper-case hexadecimal digits (64 random bits).
    static func subjectId(_ bytes: [UInt8]) -> String { bytes.hexString }

    /// A pairing password of `digits` decimal digits, uniform (rejection sampling on
    /// bytes < 250), drawing more bytes from `source` as needed.
    static func password(digits: Int, source: (Int) -> [UInt8]) -> String {
        var out: [UInt8] = []
        while out.count < digits {
            for byte in source(digits * 2) where byte < 250 && out.count < digits {
                out.append(UInt8(ascii: "0") + byte % 10)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
