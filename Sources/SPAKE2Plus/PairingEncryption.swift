import Crypto

/// The encryption of tag 70 in owner pairing (ICD 8.3), keyed by SPAKE2+'s K_shared:
/// K_enc = HKDF-SHA256(salt none, IKM K_shared, info "SpaaK pairing enc", 16 bytes);
/// AES-128-GCM, output ciphertext ‖ 16-byte tag, no associated data; nonce = direction
/// (0x01 module → device, 0x02 device → module) ‖ 7 zero bytes ‖ 4-byte big-endian counter,
/// from 1 for the first message of each direction. Stateless: the caller keeps the counters.
public struct PairingEncryption: Sendable {
    /// Who sends the message: the first byte of the nonce.
    public enum Direction: UInt8, Sendable {
        /// The module (the SPAKE2+ verifier) to the device.
        case moduleToDevice = 0x01
        /// The device (the prover) to the module.
        case deviceToModule = 0x02
    }

    /// K_enc, 16 bytes.
    public let key: [UInt8]

    /// Derives K_enc from K_shared.
    public init(sharedKey: [UInt8]) {
        key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: sharedKey), salt: [UInt8](), info: Array("SpaaK pairing enc".utf8),
            outputByteCount: 16
        ).withUnsafeBytes { Array($0) }
    }

    /// The 12-byte nonce of message `counter` (≥ 1) in `direction`.
    public static func nonce(direction: Direction, counter: UInt32) -> [UInt8] {
        [direction.rawValue] + [UInt8](repeating: 0, count: 7)
            + [UInt8(counter >> 24), UInt8(truncatingIfNeeded: counter >> 16), UInt8(truncatingIfNeeded: counter >> 8),
               UInt8(truncatingIfNeeded: counter)]
    }

    /// ciphertext ‖ tag of `plaintext`.
    public func seal(_ plaintext: [UInt8], direction: Direction, counter: UInt32) throws -> [UInt8] {
        let nonce = try AES.GCM.Nonce(data: Self.nonce(direction: direction, counter: counter))
        let box = try AES.GCM.seal(plaintext, using: SymmetricKey(data: key), nonce: nonce)
        return Array(box.ciphertext) + Array(box.tag)
    }

    /// The plaintext of ciphertext ‖ tag; throws when it is shorter than a tag or does not
    /// authenticate.
    public func open(_ sealed: [UInt8], direction: Direction, counter: UInt32) throws -> [UInt8] {
        guard sealed.count >= 16 else { throw CryptoKitError.incorrectParameterSize }
        let box = try AES.GCM.SealedBox(
            nonce: AES.GCM.Nonce(data: Self.nonce(direction: direction, counter: counter)),
            ciphertext: Array(sealed.dropLast(16)), tag: Array(sealed.suffix(16)))
        return Array(try AES.GCM.open(box, using: SymmetricKey(data: key)))
    }
}
