import APDU
import CloudProtocol

/// One derivation of w0/w1 from a password (ICD 7.6: scrypt with the salt, N, r, p of a
/// SPAKE2+ REQUEST), handed out by the phone's machines so that the shell runs it away from
/// its event loop (it takes seconds at a real cost on a slow CPU) and hands the result back.
/// `run()` is pure and may run on any thread.
public struct ScryptJob: Hashable, Sendable, CustomStringConvertible {
    /// The password bytes.
    public let password: [UInt8]
    /// The salt of the verifier.
    public let salt: [UInt8]
    /// The scrypt cost N.
    public let n: UInt32
    /// The scrypt block size r.
    public let r: UInt16
    /// The scrypt parallelism p.
    public let p: UInt16

    /// The job for `password` and the parameters of a SPAKE2+ REQUEST (limits checked by `PasswordSecrets`).
    init(password: [UInt8], request: SPAKE2RequestParameters) {
        self.password = password
        salt = request.salt
        n = request.n
        r = request.r
        p = request.p
    }

    /// Runs scrypt: w0, w1 (and L), or why scrypt refused the parameters.
    public func run() -> Result<SpakeVerifierSecrets, PasswordSecretsError> {
        do {
            return .success(try SpakeVerifierDerivation.derive(password: password, salt: salt, n: n, r: r, p: p))
        } catch {
            return .failure(.parameters("scrypt refused N \(n), r \(r), p \(p): \(error)"))
        }
    }

    /// The parameters, for logs (never the password).
    public var description: String { "scrypt N=\(n) r=\(r) p=\(p)" }

}
