#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Crypto
import X509

/// The module's own policy checks. The X509 package's verifier does not enforce keyUsage on
/// every path, so roles, chaining and validity are checked here, one property at a time.
extension KeyMCertificate {
    /// A CA (ICD 5.5): basicConstraints cA = TRUE and keyUsage with keyCertSign.
    public func requireCA(_ name: String) throws(KeyMFailure) {
        guard isCA else {
            throw KeyMFailure(.invalidType, "\(name): not a CA (basicConstraints \(describe(basicConstraints)))")
        }
        guard let keyUsage else {
            throw KeyMFailure(.invalidType, "\(name): CA without keyUsage extension")
        }
        guard keyUsage.keyCertSign else {
            throw KeyMFailure(.invalidType, "\(name): CA keyUsage \(keyUsage) lacks keyCertSign")
        }
    }

    /// A signing end entity (ICD 5.5, 5.6, 7.4, 7.6): keyUsage with digitalSignature, not a
    /// CA, and no keyCertSign (RFC 5280 4.2.1.3 allows that bit only with cA = TRUE).
    public func requireSigningLeaf(_ name: String) throws(KeyMFailure) {
        guard !isCA else {
            throw KeyMFailure(.invalidType, "\(name): is a CA (\(describe(basicConstraints))), an end-entity certificate is required")
        }
        guard let keyUsage else {
            throw KeyMFailure(.invalidType, "\(name): no keyUsage extension, digitalSignature required")
        }
        guard keyUsage.digitalSignature else {
            throw KeyMFailure(.invalidType, "\(name): keyUsage \(keyUsage) lacks digitalSignature")
        }
        guard !keyUsage.keyCertSign else {
            throw KeyMFailure(.invalidType, "\(name): keyCertSign on a certificate that is not a CA")
        }
    }

    /// notBefore ≤ `now` ≤ notAfter.
    public func requireValidity(at now: Date, _ name: String) throws(KeyMFailure) {
        let notBefore = certificate.notValidBefore
        let notAfter = certificate.notValidAfter
        if now < notBefore {
            throw KeyMFailure(.validityPeriodFail, "\(name): not valid before \(notBefore) (now \(now))")
        }
        if now > notAfter {
            throw KeyMFailure(.validityPeriodFail, "\(name): expired at \(notAfter) (now \(now))")
        }
    }

    /// A self-signed root: issuer = subject and the certificate's own key verifies it.
    public func requireSelfSigned(_ name: String) throws(KeyMFailure) {
        guard certificate.issuer == certificate.subject else {
            throw KeyMFailure(
                .invalidChainOfTrust,
                "\(name): not self-issued (issuer \(certificate.issuer), subject \(certificate.subject))"
            )
        }
        guard certificate.publicKey.isValidSignature(certificate.signature, for: certificate) else {
            throw KeyMFailure(.signatureFail, "\(name): self-signature does not verify with its own key")
        }
    }

    /// Issued by `issuer` (already checked): issuer name chaining, the issuer's key
    /// verifies the signature, and the issuer's pathLenConstraint leaves room for this
    /// certificate when it is a CA itself.
    public func requireIssued(by issuer: KeyMCertificate, issuerName: String, _ name: String) throws(KeyMFailure) {
        guard certificate.issuer == issuer.certificate.subject else {
            throw KeyMFailure(
                .invalidChainOfTrust,
                "\(name): issuer \(certificate.issuer) is not \(issuerName) \(issuer.certificate.subject)"
            )
        }
        guard issuer.certificate.publicKey.isValidSignature(certificate.signature, for: certificate) else {
            throw KeyMFailure(.signatureFail, "\(name): signature does not verify with the key of \(issuerName)")
        }
        if isCA, let limit = issuer.maxPathLength, limit < 1 {
            throw KeyMFailure(.invalidChainOfTrust, "\(name): \(issuerName) pathLenConstraint \(limit) forbids a sub-CA")
        }
    }

    /// The certificate carries `expected` (when there is none, the module has no key to match).
    public func requirePublicKey(_ expected: P256.Signing.PublicKey?, keyName: String, _ name: String) throws(KeyMFailure) {
        guard let expected else {
            throw KeyMFailure(.invalid, "\(name): no \(keyName) key pair to match")
        }
        guard publicKey.x963Representation == expected.x963Representation else {
            throw KeyMFailure(.invalid, "\(name): certifies another key, not the \(keyName) public key")
        }
    }

    private func describe(_ constraints: BasicConstraints?) -> String {
        constraints.map { "\($0)" } ?? "absent"
    }
}
