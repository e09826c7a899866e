/// CRC-8/SAE-J1850 as used by AUTOSAR E2E profile 1 (`Crc_CalculateCRC8`).
///
/// Parameters: polynomial 0x1D, initial value 0xFF, final XOR 0xFF, no reflection.
/// Check value: `0x4B` for the ASCII bytes of `"123456789"`. Table-driven, one lookup
/// per byte.
public enum CRC8SAEJ1850 {
    /// The generator polynomial x^8 + x^4 + x^3 + x^2 + 1 (without the x^8 term).
    public static let polynomial: UInt8 = 0x1D
    /// The register value before the first byte.
    public static let initialValue: UInt8 = 0xFF
    /// The value XORed into the register after the last byte.
    public static let finalXOR: UInt8 = 0xFF

    /// The 256-entry lookup table: the register after shifting each byte value through.
    public static let table: [UInt8] = (0...255).map { value -> UInt8 in
        var crc = UInt8(value)
        for _ in 0..<8 {
            crc = crc & 0x80 != 0 ? (crc << 1) ^ polynomial : crc << 1
        }
        return crc
    }

    /// The CRC of `bytes`, starting from the standard initial value.
    public static func checksum<S: Sequence>(_ bytes: S) -> UInt8 where S.Element == UInt8 {
        update(initialValue, with: bytes) ^ finalXOR
    }

    /// Feeds `bytes` into a running (not yet final-XORed) register, for checksums built
    /// from several pieces.
    public static func update<S: Sequence>(_ register: UInt8, with bytes: S) -> UInt8 where S.Element == UInt8 {
        var crc = register
        for byte in bytes { crc = table[Int(crc ^ byte)] }
        return crc
    }
}
