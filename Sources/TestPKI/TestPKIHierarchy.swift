import Crypto
import Foundation
import X509

/// The certificates of the simulated Stellantis PKI backend and how each is made.
public enum TestPKIRole: String, Sendable, Hashable, CaseIterable, Codable {
    /// [J] OEM CA root: self-signed CA.
    case j = "J"
    /// [J1] OEM sub-CA: CA signed by [J]; issues ECU identity and vehicle identity certificates.
    case j1 = "J1"
    /// [J_PhysicalKey] OEM CA root for physical keys: self-signed CA.
    case jPhysicalKey = "J_PhysicalKey"
    /// [Z1] vehicle OEM server intermediate CA: CA signed by [J].
    case z1 = "Z1"
    /// [ZZ2] KTS server signing certificate: leaf signed by [Z1] (signs OwnerKeyTermination).
    case zz2 = "ZZ2"
    /// The VOS message-signing certificate: leaf signed by [Z1] (the C2V signer, tag 0x20).
    case vos = "VOS"

    /// The file name stem: `J` → `J.der`, `J.pem`, `J.key.pem`.
    public var fileStem: String { rawValue }

    /// The subject common name.
    public var commonName: String {
        switch self {
        case .j: return "OEM CA Root [J]"
        case .j1: return "OEM Sub-CA [J1]"
        case .jPhysicalKey: return "OEM CA Root Physical Key [J_PhysicalKey]"
        case .z1: return "Vehicle OEM Server Intermediate CA [Z1]"
        case .zz2: return "KTS Server Signing [ZZ2]"
        case .vos: return "Vehicle OEM Server Message Signing"
        }
    }

    /// The issuing role; `nil` for the self-signed roots.
    public var issuerRole: TestPKIRole? {
        switch self {
        case .j, .jPhysicalKey: return nil
        case .j1, .z1: return .j
        case .zz2, .vos: return .z1
        }
    }

    /// `true` for the CA roles.
    public var isCA: Bool { self == .j || self == .j1 || self == .jPhysicalKey || self == .z1 }
}

/// One certificate of the hierarchy with its private key.
public struct TestPKIIdentity: Sendable {
    /// The role.
    public let role: TestPKIRole
    /// The P-256 private key.
    public let key: P256.Signing.PrivateKey
    /// The certificate.
    public let certificate: Certificate
    /// The certificate's DER.
    public let der: [UInt8]

    /// Pairs a key and a certificate; throws if the certificate does not carry the key.
    public init(role: TestPKIRole, key: P256.Signing.PrivateKey, certificate: Certificate) throws {
        guard let certified = P256.Signing.PublicKey(certificate.publicKey),
            certified.x963Representation == key.publicKey.x963Representation
        else { throw TestPKIError.keyMismatch(role.fileStem) }
        self.role = role
        self.key = key
        self.certificate = certificate
        self.der = try certificate.derBytes()
    }
}

/// A complete, consistent test hierarchy: [J], [J1], [J_PhysicalKey], [Z1], [ZZ2] and the
/// VOS signer, all P-256 / ecdsa-with-SHA256.
public struct TestPKIHierarchy: Sendable {
    /// The identities, by role.
    public let identities: [TestPKIRole: TestPKIIdentity]

    /// The identity of `role` (every role is present by construction).
    public subscript(role: TestPKIRole) -> TestPKIIdentity {
        guard let identity = identities[role] else { preconditionFailure("hierarchy without \(role)") }
        return identity
    }

    /// Pairs identities; throws unless every role is present.
    public init(identities: [TestPKIRole: TestPKIIdentity]) throws {
        for role in TestPKIRole.allCases where identities[role] == nil {
            throw TestPKIError.missingFile("\(role.fileStem) certificate or key")
        }
        self.identities = identities
    }

    /// Certificates start this long before `now` (tolerates clocks a little behind).
    public static let backdating: TimeInterval = 3600

    /// Generates fresh keys and certificates valid from `now` (backdated an hour) for
    /// `validityDays` days.
    public static func generate(now: Date = Date(), validityDays: Int = 3650) throws -> TestPKIHierarchy {
        var identities: [TestPKIRole: TestPKIIdentity] = [:]
        for role in TestPKIRole.allCases {  // declaration order puts every issuer first
            let key = P256.Signing.PrivateKey()
            let issuer = role.issuerRole.flatMap { identities[$0] }
            let spec = roleSpec(role, key: key, issuer: issuer, now: now, validityDays: validityDays)
            identities[role] = try TestPKIIdentity(role: role, key: key, certificate: try spec.issue())
        }
        return try TestPKIHierarchy(identities: identities)
    }

    /// The spec that makes `role`'s certificate for `key` under `issuer` (self-signed if nil).
    static func roleSpec(
        _ role: TestPKIRole, key: P256.Signing.PrivateKey, issuer: TestPKIIdentity?, now: Date, validityDays: Int
    ) -> TestPKICertificateSpec {
        let subject = DistinguishedName.stellantis(role.commonName)
        return TestPKICertificateSpec(
            subject: subject,
            subjectKey: Certificate.PublicKey(key.publicKey),
            issuer: issuer?.certificate.subject ?? subject,
            issuerKey: .p256(issuer?.key ?? key),
            basicConstraints: role.isCA ? .isCertificateAuthority(maxPathLength: role.issuerRole == nil ? nil : 0) : .notCertificateAuthority,
            keyUsage: role.isCA ? TestPKICertificateSpec.caKeyUsage : TestPKICertificateSpec.leafKeyUsage,
            notBefore: now - backdating,
            notAfter: now + TimeInterval(validityDays) * 86_400
        )
    }

    /// The spec of `role`'s own certificate again, re-signed by its issuer: the starting
    /// point for deliberately bad variants (`TestPKICertificateSpec.applying`).
    public func spec(for role: TestPKIRole, now: Date, validityDays: Int = 3650) -> TestPKICertificateSpec {
        Self.roleSpec(role, key: self[role].key, issuer: role.issuerRole.map { self[$0] }, now: now, validityDays: validityDays)
    }

    /// The spec of a signing leaf under [J1] (ECU identity or vehicle identity [K]):
    /// CN = `commonName`, keyUsage digitalSignature, not a CA, random serial number; the end
    /// of validity never passes [J1]'s.
    public func leafSpec(commonName: String, publicKey: Certificate.PublicKey, now: Date, validityDays: Int) -> TestPKICertificateSpec {
        let j1 = self[.j1]
        let end = min(now + TimeInterval(validityDays) * 86_400, j1.certificate.notValidAfter)
        return TestPKICertificateSpec(
            subject: .stellantis(commonName),
            subjectKey: publicKey,
            issuer: j1.certificate.subject,
            issuerKey: .p256(j1.key),
            basicConstraints: .notCertificateAuthority,
            keyUsage: TestPKICertificateSpec.leafKeyUsage,
            notBefore: now - Self.backdating,
            notAfter: end
        )
    }

    /// RP-02: an ECU identity certificate for a checked CSR (CN = the ECU serial).
    public func issueECUIdentityCertificate(csr: CertificateSigningRequest, now: Date = Date(), validityDays: Int = 3650) throws -> Certificate {
        let serial = try TestPKICSR.check(csr)
        return try leafSpec(commonName: serial, publicKey: csr.publicKey, now: now, validityDays: validityDays).issue()
    }

    /// PP-01 step 12: the vehicle identity certificate [K] for a CSR (DER or PEM) whose CN
    /// must be `subjectId`; the certificate's CN is `subjectId`.
    public func issueVehicleIdentityCertificate(
        csr bytes: [UInt8], subjectId: String, now: Date = Date(), validityDays: Int = 3650
    ) throws -> Certificate {
        let csr = try TestPKICSR.parse(bytes)
        let commonName = try TestPKICSR.check(csr)
        guard commonName == subjectId else { throw TestPKIError.csrRefused("CN \(commonName) is not the subject id \(subjectId)") }
        return try leafSpec(commonName: subjectId, publicKey: csr.publicKey, now: now, validityDays: validityDays).issue()
    }

    /// An ECDSA P-256 / SHA-256 signature of `message`, DER-encoded, by `role`'s key (the VOS
    /// signer by default; `.zz2` signs as the KTS).
    public func sign(_ message: [UInt8], as role: TestPKIRole = .vos) throws -> [UInt8] {
        Array(try self[role].key.signature(for: message).derRepresentation)
    }
}
