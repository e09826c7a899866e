import Crypto
import SwiftASN1
import X509

/// A certificate that passed the checks every slot shares (ICD 5.5): DER X.509 v3,
/// signature algorithm ecdsa-with-SHA256 or ecdsa-with-SHA384 (the same inside and outside
/// the signed part), a P-256 subject key, decodable extensions and no critical extension
/// the module does not understand.
public struct KeyMCertificate: Sendable {
    /// The DER the certificate was parsed from.
    public let der: [UInt8]
    /// The parsed certificate.
    public let certificate: Certificate
    /// The subject's P-256 public key.
    public let publicKey: P256.Signing.PublicKey
    /// The basicConstraints extension, `nil` if absent.
    public let basicConstraints: BasicConstraints?
    /// The keyUsage extension, `nil` if absent.
    public let keyUsage: KeyUsage?

    /// The extensions the module recognises; any other critical extension is refused
    /// (RFC 5280 4.2).
    static let recognisedExtensions: Set<ASN1ObjectIdentifier> = [
        .X509ExtensionID.basicConstraints,
        .X509ExtensionID.keyUsage,
        .X509ExtensionID.extendedKeyUsage,
        .X509ExtensionID.subjectKeyIdentifier,
        .X509ExtensionID.authorityKeyIdentifier,
        .X509ExtensionID.subjectAlternativeName,
        .X509ExtensionID.authorityInformationAccess,
    ]

    /// Parses `der` and applies the common profile; `name` (e.g. `[J1]`) prefixes reasons.
    ///
    /// Throws `.invalidFormat` for anything that is not a DER X.509 v3 certificate,
    /// `.invalidType` for a key or algorithm outside the profile and `.invalid` for an
    /// unrecognised critical extension. Never traps on malformed input.
    public init(der: [UInt8], name: String = "certificate") throws(KeyMFailure) {
        guard !der.isEmpty else { throw KeyMFailure(.invalidFormat, "\(name): empty") }
        let certificate: Certificate
        do {
            certificate = try Certificate(derEncoded: der)
        } catch {
            throw KeyMFailure(.invalidFormat, "\(name): not a DER X.509 certificate (\(error))")
        }
        guard certificate.version == .v3 else {
            throw KeyMFailure(.invalidFormat, "\(name): X.509 \(certificate.version), v3 required")
        }
        guard Self.innerAndOuterAlgorithmsMatch(der) else {
            throw KeyMFailure(.invalidFormat, "\(name): signatureAlgorithm differs from tbsCertificate.signature")
        }
        guard Self.signatureHasWholeOctets(der) else {
            throw KeyMFailure(.invalidFormat, "\(name): signatureValue BIT STRING has unused bits")
        }
        let algorithm = certificate.signatureAlgorithm
        guard algorithm == .ecdsaWithSHA256 || algorithm == .ecdsaWithSHA384 else {
            throw KeyMFailure(.invalidType, "\(name): signature algorithm \(algorithm), ecdsa-with-SHA256/384 required")
        }
        guard let key = P256.Signing.PublicKey(certificate.publicKey) else {
            throw KeyMFailure(.invalidType, "\(name): subject key is \(certificate.publicKey), P-256 required")
        }
        let basicConstraints: BasicConstraints?
        let keyUsage: KeyUsage?
        do {
            basicConstraints = try certificate.extensions.basicConstraints
            keyUsage = try certificate.extensions.keyUsage
        } catch {
            throw KeyMFailure(.invalidFormat, "\(name): malformed extension (\(error))")
        }
        for ext in certificate.extensions where ext.critical && !Self.recognisedExtensions.contains(ext.oid) {
            throw KeyMFailure(.invalid, "\(name): unrecognised critical extension \(ext.oid)")
        }
        self.der = der
        self.certificate = certificate
        self.publicKey = key
        self.basicConstraints = basicConstraints
        self.keyUsage = keyUsage
    }

    /// `true` when basicConstraints says cA = TRUE.
    public var isCA: Bool {
        if case .isCertificateAuthority = basicConstraints { return true }
        return false
    }

    /// The CA's pathLenConstraint, `nil` when absent or not a CA.
    public var maxPathLength: Int? {
        if case .isCertificateAuthority(let length) = basicConstraints { return length }
        return nil
    }

    /// The first commonName of the subject, if any.
    public var subjectCommonName: String? {
        for rdn in certificate.subject {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                return String(attribute.value)
            }
        }
        return nil
    }

    /// The signatureValue BIT STRING holds a whole DER ECDSA-Sig-Value: its unused-bits
    /// octet must be 0 (the X509 package ignores it, and it is outside what is signed).
    static func signatureHasWholeOctets(_ der: [UInt8]) -> Bool {
        guard let root = try? DER.parse(der), case .constructed(let top) = root.content else { return false }
        var nodes = top.makeIterator()
        _ = nodes.next()
        _ = nodes.next()
        guard let signature = nodes.next(), case .primitive(let bytes) = signature.content else { return false }
        return bytes.first == 0
    }

    /// RFC 5280 4.1.1.2: `signatureAlgorithm` must equal `tbsCertificate.signature`. The X509
    /// package keeps only the outer one, so both are compared here on the raw DER.
    static func innerAndOuterAlgorithmsMatch(_ der: [UInt8]) -> Bool {
        guard let root = try? DER.parse(der),
            case .constructed(let top) = root.content
        else { return false }
        var topNodes = top.makeIterator()
        guard let tbs = topNodes.next(), let outer = topNodes.next(),
            case .constructed(let tbsChildren) = tbs.content
        else { return false }
        var fields = tbsChildren.makeIterator()
        guard let first = fields.next() else { return false }
        if first.identifier.tagClass == .contextSpecific && first.identifier.tagNumber == 0 {
            guard fields.next() != nil else { return false }  // version, then serialNumber
        }
        guard let inner = fields.next() else { return false }  // after serialNumber
        return inner.encodedBytes.elementsEqual(outer.encodedBytes)
    }
}
