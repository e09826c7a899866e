import APDU
import CloudProtocol

/// The device's pairing password and the w0/w1 it derives from it (ICD 7.6: scrypt with the
/// salt, N, r, p that SPAKE2+ REQUEST carries), cached per parameter set: scrypt runs once
/// per salt and cost in a process, not once per tap.
public struct PasswordSecrets: Sendable {
    /// The largest scrypt memory (128 · N · r bytes) the device agrees to spend: 256 MiB. A
    /// request above it is refused (`6A 80`) rather than exhausting the phone.
    public static let maxScryptMemory = 256 << 20
    /// The largest parallelism p accepted.
    public static let maxScryptP: UInt16 = 16

    /// The password bytes (UTF-8 of the digits).
    public let password: [UInt8]
    /// How many scrypt results were kept (one per parameter set; a cached answer does not count).
    public private(set) var derivations = 0
    private var cache: [Parameters: SpakeVerifierSecrets] = [:]

    private struct Parameters: Hashable {
        var salt: [UInt8]
        var n: UInt32
        var r: UInt16
        var p: UInt16
    }

    /// Creates the secrets of `password`.
    public init(password: [UInt8]) {
        self.password = password
    }

    /// w0 and w1 for the parameters of a SPAKE2+ REQUEST, derived here when not cached (this
    /// blocks for the whole scrypt run); throws `PasswordSecretsError` for parameters outside
    /// the device's limits or refused by scrypt.
    public mutating func secrets(for request: SPAKE2RequestParameters) throws(PasswordSecretsError) -> SpakeVerifierSecrets {
        if let cached = cached(request) { return cached }
        let job = try job(for: request)
        let secrets = try job.run().get()
        store(secrets, of: job)
        return secrets
    }

    /// The secrets of `request` if they are already derived.
    public func cached(_ request: SPAKE2RequestParameters) -> SpakeVerifierSecrets? {
        cache[Parameters(salt: request.salt, n: request.n, r: request.r, p: request.p)]
    }

    /// The derivation `request` needs, for a worker; throws `PasswordSecretsError` for
    /// parameters outside the device's limits (nothing is derived then).
    public func job(for request: SPAKE2RequestParameters) throws(PasswordSecretsError) -> ScryptJob {
        guard request.n >= 2, request.n & (request.n - 1) == 0 else { throw .parameters("scrypt N \(request.n) is not a power of two ≥ 2") }
        guard request.r >= 1, request.p >= 1, request.p <= Self.maxScryptP else {
            throw .parameters("scrypt r \(request.r), p \(request.p) outside r ≥ 1, 1 ≤ p ≤ \(Self.maxScryptP)")
        }
        guard 128 * Int(request.n) * Int(request.r) <= Self.maxScryptMemory else {
            throw .parameters("scrypt N \(request.n), r \(request.r) needs more than \(Self.maxScryptMemory >> 20) MiB")
        }
        return ScryptJob(password: password, request: request)
    }

    /// Keeps the result of `job` (a job of another password is ignored).
    public mutating func store(_ secrets: SpakeVerifierSecrets, of job: ScryptJob) {
        guard job.password == password else { return }
        let key = Parameters(salt: job.salt, n: job.n, r: job.r, p: job.p)
        guard cache[key] == nil else { return }
        derivations += 1
        cache[key] = secrets
    }

    /// Whether the secrets of these parameters are already derived.
    public func isCached(_ request: SPAKE2RequestParameters) -> Bool {
        cached(request) != nil
    }

    /// A different password of the same shape, for `--wrong-password`: the last digit (or
    /// byte) moved by one (`0123456789012` → `0123456789013`, `9` → `0`).
    public static func wrongPassword(for password: [UInt8]) -> [UInt8] {
        guard let last = password.last else { return Array("0".utf8) }
        var wrong = password
        switch last {
        case UInt8(ascii: "9"): wrong[wrong.count - 1] = UInt8(ascii: "0")
        case UInt8(ascii: "0")..<UInt8(ascii: "9"): wrong[wrong.count - 1] = last + 1
        default: wrong[wrong.count - 1] = last ^ 0x01
        }
        return wrong
    }
}

/// Why the device cannot derive w0/w1.
public enum PasswordSecretsError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The scrypt parameters are outside the device's limits or scrypt refused them.
    case parameters(String)

    public var description: String {
        switch self {
        case .parameters(let why): return why
        }
    }
}
