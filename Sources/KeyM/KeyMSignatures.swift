#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Crypto

/// Signatures of cloud-to-vehicle messages (ICD 7.4): ECDSA P-256 / SHA-256, DER-encoded,
/// over every byte before the signature TLV.
extension KeyM {
    /// ICD 7.4: the signer certificate of a C2V message from the VOS must be a signing leaf
    /// issued by the installed [Z1] (itself valid, so chaining to [J]), within its validity,
    /// with keyUsage digitalSignature.
    public static func checkC2VSignerCertificate(
        _ der: [UInt8], installed: KeyMInstalledCertificates, now: Date
    ) -> KeyMCheckResult {
        do {
            let signer = try validateC2VSigner(der, installed: installed, now: now)
            return KeyMCheckResult(status: .valid, reason: "C2V signer \(signer.certificate.subject): valid")
        } catch {
            return error.result
        }
    }

    /// The C2V signer check of `checkC2VSignerCertificate`, returning the parsed certificate.
    public static func validateC2VSigner(
        _ der: [UInt8], installed: KeyMInstalledCertificates, now: Date
    ) throws(KeyMFailure) -> KeyMCertificate {
        let name = "C2V signer"
        let signer = try KeyMCertificate(der: der, name: name)
        try signer.requireSigningLeaf(name)
        let z1 = try installedIssuer(.z1, for: name, installed: installed, now: now)
        try signer.requireIssued(by: z1, issuerName: KeyMCertificateSlot.z1.description, name)
        try signer.requireValidity(at: now, name)
        return signer
    }

    /// Verifies a DER ECDSA signature of `message` (SHA-256) with `publicKey`;
    /// `.signatureFail` when it does not verify or is not a DER ECDSA signature.
    public static func verifySignature(
        _ signature: [UInt8], of message: [UInt8], publicKey: P256.Signing.PublicKey, signerName: String = "signer"
    ) -> KeyMCheckResult {
        guard let ecdsa = try? P256.Signing.ECDSASignature(derRepresentation: signature) else {
            return KeyMCheckResult(status: .signatureFail, reason: "\(signerName): signature is not a DER ECDSA signature")
        }
        guard publicKey.isValidSignature(ecdsa, for: SHA256.hash(data: message)) else {
            return KeyMCheckResult(status: .signatureFail, reason: "\(signerName): signature does not verify")
        }
        return KeyMCheckResult(status: .valid, reason: "\(signerName): signature valid")
    }

    /// Verifies a DER ECDSA signature of `message` with the key of the certificate
    /// `certificateDER` (only parsed and profile-checked here, not chained).
    public static func verifySignature(
        _ signature: [UInt8], of message: [UInt8], certificateDER: [UInt8], signerName: String = "signer"
    ) -> KeyMCheckResult {
        do {
            let certificate = try KeyMCertificate(der: certificateDER, name: signerName)
            return verifySignature(signature, of: message, publicKey: certificate.publicKey, signerName: signerName)
        } catch {
            return error.result
        }
    }

    /// ICD 7.4 for a C2V message from the VOS, in the ICD's order: the signature under the
    /// signer certificate (`.signatureFail`, or a format/type status for a bad certificate),
    /// then the signer certificate's chain to [Z1], validity and key usage.
    public static func verifyC2VMessage(
        _ signedBytes: [UInt8], signature: [UInt8], signerCertificate: [UInt8],
        installed: KeyMInstalledCertificates, now: Date
    ) -> KeyMCheckResult {
        let signatureResult = verifySignature(signature, of: signedBytes, certificateDER: signerCertificate, signerName: "C2V signer")
        guard signatureResult.isValid else { return signatureResult }
        return checkC2VSignerCertificate(signerCertificate, installed: installed, now: now)
    }

    /// ICD 7.4 / 7.6: an OwnerKeyTermination from the KTS is verified with the [ZZ2] public
    /// key; [ZZ2] must be installed and valid (`.invalidChainOfTrust` otherwise).
    public static func verifyOwnerKeyTermination(
        _ signedBytes: [UInt8], signature: [UInt8], installed: KeyMInstalledCertificates, now: Date
    ) -> KeyMCheckResult {
        do {
            let zz2 = try installedIssuer(.zz2, for: "OwnerKeyTermination", installed: installed, now: now)
            return verifySignature(signature, of: signedBytes, publicKey: zz2.publicKey, signerName: "[ZZ2]")
        } catch {
            return error.result
        }
    }
}
