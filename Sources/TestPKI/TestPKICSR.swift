import Crypto
import Foundation
import SwiftASN1
import X509

/// Errors of the test PKI, each with a sentence for the operator.
public enum TestPKIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A file of the hierarchy is missing or unreadable.
    case missingFile(String)
    /// A certificate does not carry its private key's public key.
    case keyMismatch(String)
    /// A CSR was refused (the reason says why).
    case csrRefused(String)
    /// An ECU serial number is not acceptable.
    case invalidSerial(String)
    /// The directory already holds a hierarchy.
    case alreadyInitialised(String)
    /// A file could not be written.
    case writeFailed(String)

    /// The sentence.
    public var description: String {
        switch self {
        case .missingFile(let what): return "missing or unreadable: \(what)"
        case .keyMismatch(let role): return "the \(role) certificate does not carry the \(role) private key's public key"
        case .csrRefused(let reason): return "CSR refused: \(reason)"
        case .invalidSerial(let serial): return "invalid ECU serial number \"\(serial)\" (1 to 32 of A-Z a-z 0-9 - _ ., not starting with .)"
        case .alreadyInitialised(let dir): return "\(dir) already holds a hierarchy (use --force to replace it)"
        case .writeFailed(let path): return "cannot write \(path)"
        }
    }
}

/// PKCS#10 certificate signing requests as the PKI backend receives them (ICD 5.6).
public enum TestPKICSR {
    /// Parses a CSR given as DER or as PEM (`CERTIFICATE REQUEST` / `NEW CERTIFICATE REQUEST`).
    public static func parse(_ bytes: [UInt8]) throws -> CertificateSigningRequest {
        let text = String(decoding: bytes.prefix(4096), as: UTF8.self)
        if text.contains("-----BEGIN") {
            do {
                let document = try PEMDocument(pemString: String(decoding: bytes, as: UTF8.self))
                guard document.discriminator.hasSuffix("CERTIFICATE REQUEST") else {
                    throw TestPKIError.csrRefused("PEM block is \(document.discriminator), not CERTIFICATE REQUEST")
                }
                return try CertificateSigningRequest(derEncoded: document.derBytes)
            } catch let error as TestPKIError {
                throw error
            } catch {
                throw TestPKIError.csrRefused("not a PEM PKCS#10 request (\(error))")
            }
        }
        do {
            return try CertificateSigningRequest(derEncoded: bytes)
        } catch {
            throw TestPKIError.csrRefused("not a DER PKCS#10 request (\(error))")
        }
    }

    /// Checks a CSR and returns its subject CN: the self-signature verifies, the algorithm is
    /// ecdsa-with-SHA256, the key is P-256, the subject has a non-empty CN.
    public static func check(_ csr: CertificateSigningRequest) throws -> String {
        guard csr.signatureAlgorithm == .ecdsaWithSHA256 else {
            throw TestPKIError.csrRefused("signature algorithm \(csr.signatureAlgorithm), ecdsa-with-SHA256 required")
        }
        guard P256.Signing.PublicKey(csr.publicKey) != nil else {
            throw TestPKIError.csrRefused("key is \(csr.publicKey), P-256 required")
        }
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw TestPKIError.csrRefused("signature does not verify with the CSR's key")
        }
        guard let commonName = csr.subject.commonName, !commonName.isEmpty else {
            throw TestPKIError.csrRefused("subject \(csr.subject) has no common name")
        }
        return commonName
    }

    /// Makes a CSR (ecdsa-with-SHA256, subject `CN=<commonName>`) as the module does in RP-02
    /// and PP-01: for tests and simulations of the ECU side.
    public static func make(commonName: String, key: P256.Signing.PrivateKey) throws -> CertificateSigningRequest {
        let subject = DistinguishedName([
            RelativeDistinguishedName(RelativeDistinguishedName.Attribute(type: .RDNAttributeType.commonName, utf8String: commonName))
        ])
        return try CertificateSigningRequest(
            version: .v1,
            subject: subject,
            privateKey: Certificate.PrivateKey(key),
            attributes: CertificateSigningRequest.Attributes(),
            signatureAlgorithm: .ecdsaWithSHA256
        )
    }
}

extension CertificateSigningRequest {
    /// The DER encoding.
    public func derBytes() throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(self)
        return serializer.serializedBytes
    }
}
