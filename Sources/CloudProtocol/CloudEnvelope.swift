#if canImport(FoundationEssentials)
import SpaakCore
import FoundationEssentials
#else
import Foundation
#endif
import Crypto

/// Signs the covered bytes of a message: DER ECDSA P-256 / SHA-256 over exactly these bytes.
/// The module passes its store's signing operation (ECU identity key); the cloud simulator
/// passes its VOS or KTS key.
public typealias CloudMessageSigner = ([UInt8]) throws -> [UInt8]

/// Why an envelope could not be built.
public enum CloudEnvelopeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The fields break ICD 7.1 / 7.2.
    case invalidMessage(CloudMessageError)
    /// The payload's type travels the other way.
    case wrongDirection(CloudMessageType)
    /// The signer failed (its error, in words).
    case signerFailed(String)

    /// The fault in words.
    public var description: String {
        switch self {
        case .invalidMessage(let error): return "invalid message: \(error)"
        case .wrongDirection(let type): return "\(type) cannot be sent this way"
        case .signerFailed(let reason): return "signer failed: \(reason)"
        }
    }
}

/// Signing with a P-256 private key held in memory, for the cloud simulator and tests.
public enum CloudSigning {
    /// A signer producing DER ECDSA P-256 / SHA-256 signatures with `key`.
    public static func signer(_ key: P256.Signing.PrivateKey) -> CloudMessageSigner {
        { bytes in Array(try key.signature(for: SHA256.hash(data: bytes)).derRepresentation) }
    }

    /// Whether `signature` (DER) is a valid ECDSA P-256 / SHA-256 signature of `bytes` under `key`.
    public static func isValid(signature: [UInt8], of bytes: [UInt8], key: P256.Signing.PublicKey) -> Bool {
        guard let ecdsa = try? P256.Signing.ECDSASignature(derRepresentation: signature) else { return false }
        return key.isValidSignature(ecdsa, for: SHA256.hash(data: bytes))
    }

    /// A fresh transaction id: 16 bytes from `generator` (the caller owns the randomness).
    public static func transactionID<G: RandomNumberGenerator>(using generator: inout G) -> [UInt8] {
        (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}

/// Builds and signs a message: the shared core of `SpaakRequest` and `SpaakResponse`.
enum CloudEnvelope {
    static func build(_ message: CloudMessage, direction: CloudDirection, signer: CloudMessageSigner) throws(CloudEnvelopeError) -> [UInt8] {
        guard message.type.direction == direction else { throw .wrongDirection(message.type) }
        let covered: [UInt8]
        do { covered = try message.encodeUnsigned() } catch { throw .invalidMessage(error) }
        let signature: [UInt8]
        do { signature = try signer(covered) } catch { throw .signerFailed(String(describing: error)) }
        do { return try message.encode(signature: signature) } catch { throw .invalidMessage(error) }
    }
}

/// SpaakRequest (ICD 7.3, V2C): header, payload, signed with the ECU identity key.
/// The caller supplies the fresh transaction id of the use-case step (a retry repeats it)
/// and the V2C counter it has already incremented and stored.
public enum SpaakRequest {
    /// The encoded, signed V2C message.
    public static func build(
        serial: String, vin: String?, transactionID: [UInt8], counter: UInt32, useCase: UseCase,
        payload: CloudPayload, signer: CloudMessageSigner
    ) throws(CloudEnvelopeError) -> [UInt8] {
        let message = CloudMessage(
            serial: serial, vin: vin, transactionID: transactionID, counter: counter,
            useCase: useCase, payload: payload)
        return try CloudEnvelope.build(message, direction: .vehicleToCloud, signer: signer)
    }
}

/// SpaakResponse (ICD 7.3, C2V): header with the transaction id of the request it answers (or
/// a new one for a push), the cloud's counter, the signer certificate (VOS; `nil` for the
/// KTS's OwnerKeyTermination), and the signature. Used by the cloud simulator and tests.
public enum SpaakResponse {
    /// The encoded, signed C2V message.
    public static func build(
        serial: String, vin: String?, transactionID: [UInt8], counter: UInt32, useCase: UseCase,
        payload: CloudPayload, signerCertificate: [UInt8]?, signer: CloudMessageSigner
    ) throws(CloudEnvelopeError) -> [UInt8] {
        let message = CloudMessage(
            serial: serial, vin: vin, transactionID: transactionID, counter: counter,
            useCase: useCase, payload: payload, signerCertificate: signerCertificate)
        return try CloudEnvelope.build(message, direction: .cloudToVehicle, signer: signer)
    }
}
