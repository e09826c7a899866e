/// The certificate status of AUTOSAR KeyM (`KeyM_CertificateStatusType`), with the raw
/// values that DID 0xD120 and routine 0xD202 report (ICD 5.2).
///
/// Only the values the ICD lists are used; the module never reports "not parsed" (2),
/// "parsed, not validated" (3), "invalid content" (10) or "revoked" (11).
public enum KeyMCertificateStatus: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// `KEYM_CERTIFICATE_VALID`: every check passed.
    case valid = 0
    /// `KEYM_CERTIFICATE_INVALID`: any other failure, here: the certificate does not carry
    /// the expected public key, or it has an unrecognised critical extension.
    case invalid = 1
    /// `KEYM_CERTIFICATE_NOT_AVAILABLE`: the slot is empty.
    case notAvailable = 4
    /// `KEYM_E_CERTIFICATE_VALIDITY_PERIOD_FAIL`: `now` is outside notBefore…notAfter.
    case validityPeriodFail = 5
    /// `KEYM_E_CERTIFICATE_SIGNATURE_FAIL`: the issuer's key does not verify the signature.
    case signatureFail = 6
    /// `KEYM_E_CERTIFICATE_INVALID_CHAIN_OF_TRUST`: the issuer is missing, not valid itself,
    /// or its subject is not this certificate's issuer name (or a path length is exceeded).
    case invalidChainOfTrust = 7
    /// `KEYM_E_CERTIFICATE_INVALID_TYPE`: the certificate is not of the kind the slot needs:
    /// not a P-256 key, not ecdsa-with-SHA256/384, CA vs. leaf, or a missing key usage.
    case invalidType = 8
    /// `KEYM_E_CERTIFICATE_INVALID_FORMAT`: not a DER X.509 v3 certificate.
    case invalidFormat = 9

    /// The AUTOSAR name of the status, for logs.
    public var description: String {
        switch self {
        case .valid: return "KEYM_CERTIFICATE_VALID"
        case .invalid: return "KEYM_CERTIFICATE_INVALID"
        case .notAvailable: return "KEYM_CERTIFICATE_NOT_AVAILABLE"
        case .validityPeriodFail: return "KEYM_E_CERTIFICATE_VALIDITY_PERIOD_FAIL"
        case .signatureFail: return "KEYM_E_CERTIFICATE_SIGNATURE_FAIL"
        case .invalidChainOfTrust: return "KEYM_E_CERTIFICATE_INVALID_CHAIN_OF_TRUST"
        case .invalidType: return "KEYM_E_CERTIFICATE_INVALID_TYPE"
        case .invalidFormat: return "KEYM_E_CERTIFICATE_INVALID_FORMAT"
        }
    }
}

/// The outcome of one KeyM check: a status and a human-readable reason for the logs.
public struct KeyMCheckResult: Sendable, Hashable, CustomStringConvertible {
    /// The KeyM status; `.valid` when the check passed.
    public let status: KeyMCertificateStatus
    /// Why, in words (names the slot and the failing property).
    public let reason: String

    /// Creates a result.
    public init(status: KeyMCertificateStatus, reason: String) {
        self.status = status
        self.reason = reason
    }

    /// `true` when the status is `.valid`.
    public var isValid: Bool { status == .valid }

    /// `"<status>: <reason>"`, for logs.
    public var description: String { "\(status): \(reason)" }
}

/// A failed check, thrown internally with typed throws and turned into a `KeyMCheckResult`.
public struct KeyMFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The KeyM status describing the failure (never `.valid`).
    public let status: KeyMCertificateStatus
    /// Why, in words.
    public let reason: String

    /// Creates a failure.
    public init(_ status: KeyMCertificateStatus, _ reason: String) {
        self.status = status
        self.reason = reason
    }

    /// The failure as a check result.
    public var result: KeyMCheckResult { KeyMCheckResult(status: status, reason: reason) }

    /// `"<status>: <reason>"`, for logs.
    public var description: String { "\(status): \(reason)" }
}
