#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Crypto
import CryptoExtras

/// The SPAKE2+ values derived from a pairing password (CCC Digital Key, ICD 7.6).
public struct SpakeVerifierSecrets: Sendable, Hashable {
    /// w0, 32 bytes big-endian, in [1, n−1]: shared by both sides.
    public var w0: [UInt8]
    /// w1, 32 bytes big-endian, in [1, n−1]: the prover's secret (never sent to the vehicle).
    public var w1: [UInt8]
    /// L = w1·G, 65 bytes uncompressed: what the vehicle stores instead of w1.
    public var l: [UInt8]
}

/// CCC verifier derivation on the cloud side (ICD 7.6):
/// z = scrypt(password, salt, N, r, p, 80 bytes); w0 = (z[0..<40] mod (n−1)) + 1;
/// w1 = (z[40..<80] mod (n−1)) + 1; L = w1·G on P-256.
public enum SpakeVerifierDerivation {
    /// Derives w0, w1 and L; throws when scrypt refuses the parameters (e.g. N not a power of two).
    public static func derive(password: [UInt8], salt: [UInt8], n: UInt32, r: UInt16, p: UInt16) throws -> SpakeVerifierSecrets {
        let key = try KDF.Scrypt.deriveKey(
            from: password, salt: salt, outputByteCount: 80,
            rounds: Int(n), blockSize: Int(r), parallelism: Int(p))
        let z = key.withUnsafeBytes { Array($0) }
        let w0 = P256Order.reduceToScalar(Array(z[0..<40]))
        let w1 = P256Order.reduceToScalar(Array(z[40..<80]))
        let l = Array(try P256.Signing.PrivateKey(rawRepresentation: w1).publicKey.x963Representation)
        return SpakeVerifierSecrets(w0: w0, w1: w1, l: l)
    }

    /// The verifier record the VOS pushes in 0x0A for `password` (salt 16 bytes).
    public static func record(password: [UInt8], salt: [UInt8], n: UInt32, r: UInt16, p: UInt16) throws -> SpakeVerifierRecord {
        let secrets = try derive(password: password, salt: salt, n: n, r: r, p: p)
        return try SpakeVerifierRecord(salt: salt, n: n, r: r, p: p, w0: secrets.w0, l: secrets.l)
    }
}
