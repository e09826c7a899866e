import Crypto

extension EntryState {
    /// The payload; `nil` if absent; throws `.corrupt` naming `entry` if damaged.
    func payload(of entry: SecureStoreEntry) throws(SecureStoreError) -> [UInt8]? {
        switch self {
        case .absent: return nil
        case .present(let bytes): return bytes
        case .corrupt(let reason): throw .corrupt(entry, reason: reason)
        }
    }
}

/// A store that holds each entry as a payload (`FileSecureStore`, `InMemorySecureStore`).
/// What `SecureStore` does with a key slot is the same whatever the medium, so it is
/// written once here; the stores' public methods forward to it. A private key's raw scalar
/// goes to `KeyMaterial` only, never out of the store.
protocol EntryPayloadStore: SecureStore {
    /// The entry's payload, checked now; `nil` if absent; throws `.corrupt` if damaged.
    func payload(_ entry: SecureStoreEntry) throws(SecureStoreError) -> [UInt8]?
}

extension EntryPayloadStore {
    /// The public key of the slot's key; `nil` if the slot is empty.
    func publicKey(of slot: SecureStoreKeySlot) throws(SecureStoreError) -> P256.Signing.PublicKey? {
        guard let raw = try payload(.key(slot)) else { return nil }
        return try KeyMaterial.privateKey(raw).publicKey
    }

    /// ECDSA-with-SHA256 over `message` by the slot's key, DER.
    func signature(by slot: SecureStoreKeySlot, of message: [UInt8]) throws(SecureStoreError) -> [UInt8] {
        try KeyMaterial.sign(privateKey(slot), message: message)
    }

    /// PKCS#10 CSR (DER) for the slot's key, `CN=<commonName>`, ecdsa-with-SHA256.
    func certificateSigningRequest(for slot: SecureStoreKeySlot, commonName: String) throws(SecureStoreError) -> [UInt8] {
        try KeyMaterial.csr(privateKey(slot), commonName: commonName)
    }

    /// The raw scalar of the slot's key; `.keyAbsent` if the slot is empty.
    private func privateKey(_ slot: SecureStoreKeySlot) throws(SecureStoreError) -> [UInt8] {
        guard let raw = try payload(.key(slot)) else { throw .keyAbsent(slot) }
        return raw
    }
}
