import Crypto

/// The owner's endpoint key as the module keeps it (ICD 8.3, 8.4): the device's P-256 public
/// key, its friendly name, and whether phase 3 proved it (active) or not yet (pending). The
/// private half never exists in the module.
public struct OwnerKey: Hashable, Sendable, CustomStringConvertible {
    /// The endpoint public key, 65 bytes uncompressed.
    public let publicKey: [UInt8]
    /// The friendly name the device sent (at most 32 bytes of UTF-8).
    public let friendlyName: String
    /// `true` after phase 3.
    public var isActive: Bool

    /// A key from GET DATA; `nil` when `publicKey` is not a point of P-256 in uncompressed form.
    public init?(publicKey: [UInt8], friendlyName: String, isActive: Bool = false) {
        guard publicKey.count == 65, publicKey.first == 0x04,
              (try? P256.Signing.PublicKey(x963Representation: publicKey)) != nil,
              friendlyName.utf8.count <= 32 else { return nil }
        self.publicKey = publicKey
        self.friendlyName = friendlyName
        self.isActive = isActive
    }

    /// The key id: the first 8 bytes of SHA-256(endpoint public key).
    public var keyID: [UInt8] { Array(SHA256.hash(data: publicKey).prefix(8)) }

    /// The key for ECDSA verification.
    public var signingKey: P256.Signing.PublicKey {
        // Checked in init.
        try! P256.Signing.PublicKey(x963Representation: publicKey)
    }

    /// The store record: state (2 pending, 3 active) ‖ key (65) ‖ friendly name (UTF-8).
    public var recordBytes: [UInt8] { [isActive ? 3 : 2] + publicKey + Array(friendlyName.utf8) }

    /// Reads a store record; `nil` when it is not one (then the record counts as damaged).
    public init?(recordBytes bytes: [UInt8]) {
        guard bytes.count >= 66, bytes[0] == 2 || bytes[0] == 3,
              let name = String(validating: bytes[66...], as: UTF8.self) else { return nil }
        self.init(publicKey: Array(bytes[1..<66]), friendlyName: name, isActive: bytes[0] == 3)
    }

    /// For logs: key id, state and name.
    public var description: String {
        "\(keyID.map { String($0, radix: 16).leftPadded }.joined()) (\(isActive ? "active" : "pending"), \"\(friendlyName)\")"
    }
}

extension String {
    fileprivate var leftPadded: String { count == 1 ? "0" + self : self }
}
