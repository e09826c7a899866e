import Crypto
import Foundation
import SwiftASN1
import X509

/// A signing key of the test PKI: P-256 normally, P-384 only to build wrong-curve certificates.
public enum TestPKIKey: Sendable {
    /// A P-256 key (the profile of the ICD).
    case p256(P256.Signing.PrivateKey)
    /// A P-384 key (outside the profile).
    case p384(P384.Signing.PrivateKey)

    /// A fresh P-256 key.
    public static func newP256() -> TestPKIKey { .p256(P256.Signing.PrivateKey()) }

    /// The key in X509's wrapper, to sign with.
    public var certificateKey: Certificate.PrivateKey {
        switch self {
        case .p256(let key): return Certificate.PrivateKey(key)
        case .p384(let key): return Certificate.PrivateKey(key)
        }
    }

    /// The public half in X509's wrapper.
    public var publicKey: Certificate.PublicKey { certificateKey.publicKey }

    /// ecdsa-with-SHA256 for P-256, ecdsa-with-SHA384 for P-384.
    public var signatureAlgorithm: Certificate.SignatureAlgorithm {
        switch self {
        case .p256: return .ecdsaWithSHA256
        case .p384: return .ecdsaWithSHA384
        }
    }

    /// PKCS#8 PEM of the private key (`-----BEGIN PRIVATE KEY-----`).
    public var pemRepresentation: String {
        switch self {
        case .p256(let key): return key.pemRepresentation
        case .p384(let key): return key.pemRepresentation
        }
    }
}

/// Everything that goes into one certificate; the hierarchy fills it in for each role and
/// tests bend single fields to build bad certificates.
public struct TestPKICertificateSpec: Sendable {
    /// Subject name.
    public var subject: DistinguishedName
    /// Subject public key.
    public var subjectKey: Certificate.PublicKey
    /// Issuer name (the subject for a self-signed certificate).
    public var issuer: DistinguishedName
    /// The key that signs (the subject's own key for a self-signed certificate).
    public var issuerKey: TestPKIKey
    /// basicConstraints, written critical; `nil` leaves the extension out.
    public var basicConstraints: BasicConstraints?
    /// keyUsage, written critical; `nil` leaves the extension out.
    public var keyUsage: KeyUsage?
    /// Start of validity.
    public var notBefore: Date
    /// End of validity.
    public var notAfter: Date
    /// The signature algorithm; `nil` picks the one that fits `issuerKey`.
    public var signatureAlgorithm: Certificate.SignatureAlgorithm?
    /// The serial number (random, 20 bytes, by default).
    public var serialNumber: Certificate.SerialNumber
    /// Further extensions, appended as given (e.g. an unknown critical one).
    public var extraExtensions: [Certificate.Extension] = []

    /// Creates a spec.
    public init(
        subject: DistinguishedName, subjectKey: Certificate.PublicKey, issuer: DistinguishedName, issuerKey: TestPKIKey,
        basicConstraints: BasicConstraints?, keyUsage: KeyUsage?, notBefore: Date, notAfter: Date,
        signatureAlgorithm: Certificate.SignatureAlgorithm? = nil, serialNumber: Certificate.SerialNumber = .init()
    ) {
        self.subject = subject
        self.subjectKey = subjectKey
        self.issuer = issuer
        self.issuerKey = issuerKey
        self.basicConstraints = basicConstraints
        self.keyUsage = keyUsage
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.signatureAlgorithm = signatureAlgorithm
        self.serialNumber = serialNumber
    }

    /// keyUsage of a CA: keyCertSign and cRLSign.
    public static let caKeyUsage = KeyUsage(keyCertSign: true, cRLSign: true)
    /// keyUsage of a signing leaf: digitalSignature.
    public static let leafKeyUsage = KeyUsage(digitalSignature: true)

    /// Signs the certificate: X.509 v3 with the extensions above, plus subjectKeyIdentifier
    /// and authorityKeyIdentifier (SHA-1 of the keys, RFC 5280 4.2.1.2).
    public func issue() throws -> Certificate {
        var extensions = Certificate.Extensions()
        if let basicConstraints { try extensions.append(Certificate.Extension(basicConstraints, critical: true)) }
        if let keyUsage { try extensions.append(Certificate.Extension(keyUsage, critical: true)) }
        try extensions.append(Certificate.Extension(SubjectKeyIdentifier(hash: subjectKey), critical: false))
        let authorityKeyID = SubjectKeyIdentifier(hash: issuerKey.publicKey).keyIdentifier
        try extensions.append(
            Certificate.Extension(AuthorityKeyIdentifier(keyIdentifier: authorityKeyID), critical: false)
        )
        for ext in extraExtensions { try extensions.append(ext) }
        return try Certificate(
            version: .v3,
            serialNumber: serialNumber,
            publicKey: subjectKey,
            notValidBefore: notBefore,
            notValidAfter: notAfter,
            issuer: issuer,
            subject: subject,
            signatureAlgorithm: signatureAlgorithm ?? issuerKey.signatureAlgorithm,
            extensions: extensions,
            issuerPrivateKey: issuerKey.certificateKey
        )
    }
}

extension Certificate {
    /// The DER encoding.
    public func derBytes() throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(self)
        return serializer.serializedBytes
    }

    /// The PEM encoding (`-----BEGIN CERTIFICATE-----`).
    public func pemString() throws -> String {
        try serializeAsPEM().pemString
    }
}

extension DistinguishedName {
    /// `O=Stellantis (simulated), CN=<commonName>`: the subject names of the test PKI.
    public static func stellantis(_ commonName: String) -> DistinguishedName {
        DistinguishedName([
            RelativeDistinguishedName(RelativeDistinguishedName.Attribute(type: .RDNAttributeType.organizationName, utf8String: "Stellantis (simulated)")),
            RelativeDistinguishedName(RelativeDistinguishedName.Attribute(type: .RDNAttributeType.commonName, utf8String: commonName)),
        ])
    }

    /// The first commonName, if any.
    public var commonName: String? {
        for rdn in self {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                return String(attribute.value)
            }
        }
        return nil
    }
}
