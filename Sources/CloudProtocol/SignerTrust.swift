import Crypto

/// A trust decision that failed, in words (for the log).
public struct SignerTrustFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// Why.
    public var reason: String

    /// Creates a failure.
    public init(_ reason: String) { self.reason = reason }

    /// The reason.
    public var description: String { reason }
}

/// The certificate policy the C2V verifier needs, injected so CloudProtocol stays free of
/// X.509: the module implements it with KeyM (parsing, the chain to the installed [Z1],
/// validity at the current time, keyUsage digitalSignature, and the installed [ZZ2]).
///
/// Two steps for the VOS signer keep the order of ICD 7.4: the public key first (to check
/// the signature), the certificate policy second.
public protocol SignerTrust {
    /// The P-256 public key of the signer certificate (DER), without judging its trust.
    func publicKey(fromCertificate der: [UInt8]) -> Result<P256.Signing.PublicKey, SignerTrustFailure>
    /// Whether the signer certificate chains to [Z1], is within its validity and has keyUsage
    /// digitalSignature.
    func validate(certificate der: [UInt8]) -> Result<Void, SignerTrustFailure>
    /// The public key of the installed, valid [ZZ2], which signs OwnerKeyTermination.
    func ownerKeyTerminationKey() -> Result<P256.Signing.PublicKey, SignerTrustFailure>
}

/// A `SignerTrust` made of three closures (tests, simple adapters).
public struct ClosureSignerTrust: SignerTrust {
    private let publicKeyOf: ([UInt8]) -> Result<P256.Signing.PublicKey, SignerTrustFailure>
    private let validateCertificate: ([UInt8]) -> Result<Void, SignerTrustFailure>
    private let zz2: () -> Result<P256.Signing.PublicKey, SignerTrustFailure>

    /// Creates a trust from its three steps.
    public init(
        publicKey: @escaping ([UInt8]) -> Result<P256.Signing.PublicKey, SignerTrustFailure>,
        validate: @escaping ([UInt8]) -> Result<Void, SignerTrustFailure>,
        ownerKeyTerminationKey: @escaping () -> Result<P256.Signing.PublicKey, SignerTrustFailure>
    ) {
        self.publicKeyOf = publicKey
        self.validateCertificate = validate
        self.zz2 = ownerKeyTerminationKey
    }

    /// See `SignerTrust`.
    public func publicKey(fromCertificate der: [UInt8]) -> Result<P256.Signing.PublicKey, SignerTrustFailure> { publicKeyOf(der) }
    /// See `SignerTrust`.
    public func validate(certificate der: [UInt8]) -> Result<Void, SignerTrustFailure> { validateCertificate(der) }
    /// See `SignerTrust`.
    public func ownerKeyTerminationKey() -> Result<P256.Signing.PublicKey, SignerTrustFailure> { zz2() }
}
