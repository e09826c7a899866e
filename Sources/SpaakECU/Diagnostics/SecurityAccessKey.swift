import Crypto
import CryptoExtras

/// The key of UDS security access (ICD 5.3): AES-128-CMAC(K_plant, seed).
public enum SecurityAccessKey {
    /// The key expected for `seed` under `plantKey` (16 bytes).
    public static func compute(seed: [UInt8], plantKey: [UInt8]) -> [UInt8] {
        guard let cmac = try? AES.CMAC(key: SymmetricKey(data: plantKey)) else { return [] }
        var mac = cmac
        mac.update(data: seed)
        return Array(mac.finalize())
    }

    /// A key function for `DiagnosticServer`, bound to `plantKey`.
    public static func function(plantKey: [UInt8]) -> @Sendable ([UInt8]) -> [UInt8] {
        { seed in compute(seed: seed, plantKey: plantKey) }
    }
}
