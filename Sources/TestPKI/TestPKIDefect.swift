import Crypto
import Foundation
import X509

/// Deliberate flaws for building bad certificates in tests of the module's checks.
public enum TestPKIDefect: String, Sendable, Hashable, CaseIterable {
    /// Signed by a stranger CA (its own name and key), not by the expected issuer.
    case wrongIssuer
    /// A CA whose keyUsage lacks keyCertSign (digitalSignature and cRLSign only).
    case caWithoutKeyCertSign
    /// A leaf whose keyUsage lacks digitalSignature (keyAgreement only).
    case leafWithoutDigitalSignature
    /// Validity ended yesterday.
    case expired
    /// Validity starts tomorrow.
    case notYetValid
    /// A P-384 subject key (self-signed ones are also signed with it, ecdsa-with-SHA384).
    case wrongCurve
    /// Certifies a fresh unrelated P-256 key (a self-signed one then fails its own signature).
    case otherKey
    /// basicConstraints cA = FALSE on what should be a CA.
    case nonCAIntermediate
    /// The last byte of the signature flipped after signing.
    case badSignature
}

extension TestPKICertificateSpec {
    /// `true` when the spec signs with the subject's own name (a self-signed certificate).
    public var isSelfIssued: Bool { issuer == subject }

    /// The spec with `defect` applied (`.badSignature` is applied to the DER instead, see
    /// `issueDER(with:now:)`).
    public func applying(_ defect: TestPKIDefect, now: Date) -> TestPKICertificateSpec {
        var spec = self
        switch defect {
        case .wrongIssuer:
            spec.issuer = .stellantis("Stranger CA (not in the hierarchy)")
            spec.issuerKey = .newP256()
        case .caWithoutKeyCertSign:
            spec.keyUsage = KeyUsage(digitalSignature: true, cRLSign: true)
        case .leafWithoutDigitalSignature:
            spec.keyUsage = KeyUsage(keyAgreement: true)
        case .expired:
            spec.notBefore = now - 730 * 86_400
            spec.notAfter = now - 86_400
        case .notYetValid:
            spec.notBefore = now + 86_400
            spec.notAfter = now + 3650 * 86_400
        case .wrongCurve:
            let key = P384.Signing.PrivateKey()
            spec.subjectKey = Certificate.PublicKey(key.publicKey)
            if isSelfIssued { spec.issuerKey = .p384(key) }
        case .otherKey:
            spec.subjectKey = Certificate.PublicKey(P256.Signing.PrivateKey().publicKey)
        case .nonCAIntermediate:
            spec.basicConstraints = .notCertificateAuthority
        case .badSignature:
            break
        }
        return spec
    }

    /// Issues the certificate with `defect` and returns its DER.
    public func issueDER(with defect: TestPKIDefect, now: Date) throws -> [UInt8] {
        var der = try applying(defect, now: now).issue().derBytes()
        if defect == .badSignature, let last = der.indices.last {
            der[last] ^= 0x01  // the last byte of s in the ECDSA-Sig-Value: still DER, no longer valid
        }
        return der
    }
}

extension TestPKIHierarchy {
    /// `role`'s certificate re-issued with `defect`, as DER.
    public func defectiveDER(_ defect: TestPKIDefect, role: TestPKIRole, now: Date) throws -> [UInt8] {
        try spec(for: role, now: now).issueDER(with: defect, now: now)
    }

    /// An ECU identity / vehicle identity style leaf under [J1] with `defect`, as DER.
    public func defectiveLeafDER(
        _ defect: TestPKIDefect, commonName: String, publicKey: P256.Signing.PublicKey, now: Date
    ) throws -> [UInt8] {
        try leafSpec(commonName: commonName, publicKey: Certificate.PublicKey(publicKey), now: now, validityDays: 365)
            .issueDER(with: defect, now: now)
    }
}
