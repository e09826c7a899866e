import Foundation
import JWTKit
import OwnerServices
import Synchronization

/// The claims of a token of the simulated identity provider (RFC 7519 names). Decoding
/// checks only their shape; `TokenAuthority.verify` checks their values against its own
/// clock, so that every failure gets its own problem reason.
struct IdentityClaims: JWTPayload, Equatable {
    var iss: IssuerClaim
    var aud: AudienceClaim
    var sub: SubjectClaim
    var role: String
    var iat: IssuedAtClaim
    var exp: ExpirationClaim

    /// Nothing here: the values are checked by `TokenAuthority.verify` (issuer, audience,
    /// expiry, role) after jwt-kit checked the signature.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// The TBE's bearer tokens: JWTs signed with ES256 by the simulated identity provider
/// (`iss` spaak-sim-idp, `aud` spaak-vos, `sub` the user, `role` owner|portal|hotline,
/// `iat`, `exp`). Signs tokens (for `spaak-cloud token` and the portal's sign-in) and
/// verifies them (every `/v1` request), with jwt-kit.
public final class TokenAuthority: Sendable {
    /// The identity provider's name (`iss`).
    public static let issuer = "spaak-sim-idp"
    /// The service the tokens are for (`aud`).
    public static let audience = "spaak-vos"
    /// The key id in the header (`kid`).
    public static let keyID = "spaak-sim-idp"
    /// The default lifetime of a token: one hour.
    public static let defaultLifetime: TimeInterval = 3600
    /// The longest token accepted (bytes); a real one is about 400.
    public static let maxTokenLength = 4096

    private let key: ES256PrivateKey
    private let keys = JWTKeyCollection()
    private let keyInstalled = Mutex(false)

    /// An authority signing and verifying with `key` (its public half verifies).
    public init(key: ES256PrivateKey) {
        self.key = key
    }

    /// An authority with the key of the identity provider's key file (created when missing).
    public convenience init(keyFile path: String) throws(TokenKeyError) {
        self.init(key: try IdentityKeyFile.loadOrCreate(path: path).key)
    }

    /// The public key (PEM, SubjectPublicKeyInfo), for documentation and other verifiers.
    public var publicKeyPEM: String { key.publicKey.pemRepresentation }

    /// The key collection with the key added (jwt-kit's collection is an actor: the key is
    /// added at the first use, so that creating the authority starts no task).
    private func collection() async -> JWTKeyCollection {
        if keyInstalled.withLock({ $0 }) { return keys }
        await keys.add(ecdsa: key, kid: JWKIdentifier(string: Self.keyID))
        keyInstalled.withLock { $0 = true }
        return keys
    }

    /// A signed token for `user` in `role`, issued at `now`, expiring `lifetime` seconds
    /// later (a negative lifetime makes a token that has already expired: for tests).
    /// `audience` and `issuer` can be changed to make tokens this service refuses.
    public func sign(user: String, role: String, lifetime: TimeInterval = TokenAuthority.defaultLifetime,
                     audience: String = TokenAuthority.audience, issuer: String = TokenAuthority.issuer,
                     now: Date = Date()) async throws -> String {
        // NumericDate in whole seconds (RFC 7519 allows fractions; not every verifier does).
        let issued = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        let expires = Date(timeIntervalSince1970: (issued.timeIntervalSince1970 + lifetime).rounded(.down))
        let claims = IdentityClaims(iss: IssuerClaim(value: issuer), aud: AudienceClaim(value: [audience]),
                                    sub: SubjectClaim(value: user), role: role,
                                    iat: IssuedAtClaim(value: issued), exp: ExpirationClaim(value: expires))
        var header = JWTHeader()
        header.typ = "JWT"
        return try await collection().sign(claims, kid: JWKIdentifier(string: Self.keyID), header: header)
    }

    /// The caller a bearer token stands for, checked in this order: form and header (`alg`
    /// ES256, `kid`), signature under the identity provider's key, issuer, audience
    /// (`wrongAudience`), expiry at `now` (`expiredToken`), user and role (`invalidToken`).
    public func verify(_ token: String, now: Date = Date()) async throws(OwnerServiceError) -> Caller {
        try Self.checkHeader(token)
        let claims: IdentityClaims
        do {
            claims = try await collection().verify(token, as: IdentityClaims.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw OwnerServiceError(.invalidToken, "the signature does not verify under the identity provider's key")
        } catch {
            throw OwnerServiceError(.invalidToken, "the token is malformed (three base64url parts, the claims iss, aud, sub, role, iat, exp)")
        }
        guard claims.iss.value == Self.issuer else {
            throw OwnerServiceError(.invalidToken, "the token was issued by '\(Self.printable(claims.iss.value))', not \(Self.issuer)")
        }
        guard claims.aud.value.contains(Self.audience) else {
            throw OwnerServiceError(.wrongAudience, "the token is for \(claims.aud.value.map { "'\(Self.printable($0))'" }.joined(separator: ", ")), not \(Self.audience)")
        }
        guard claims.exp.value > now else {
            throw OwnerServiceError(.expiredToken, "the token expired at \(claims.exp.value.formatted(.iso8601))")
        }
        guard Self.isValidUser(claims.sub.value) else {
            throw OwnerServiceError(.invalidToken, "the token's subject is not a user name")
        }
        guard let role = CallerRole(rawValue: claims.role) else {
            throw OwnerServiceError(.invalidToken, "the token's role '\(Self.printable(claims.role))' is not owner, portal or hotline")
        }
        return Caller(user: claims.sub.value, role: role)
    }

    /// The caller of an `Authorization` header value (`Bearer TOKEN`); `missingToken` when
    /// there is none or it is not a bearer token.
    public func verify(authorization: String?, now: Date = Date()) async throws(OwnerServiceError) -> Caller {
        guard let authorization, !authorization.isEmpty else {
            throw OwnerServiceError(.missingToken, "the request has no Authorization: Bearer header")
        }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw OwnerServiceError(.missingToken, "the Authorization header is not a bearer token (Authorization: Bearer <JWT>)")
        }
        return try await verify(parts[1].trimmingCharacters(in: .whitespaces), now: now)
    }

    /// The header must say ES256 (no `none`, no other algorithm) and, when it names a key,
    /// the identity provider's.
    private static func checkHeader(_ token: String) throws(OwnerServiceError) {
        guard token.utf8.count <= maxTokenLength else {
            throw OwnerServiceError(.invalidToken, "the token is longer than \(maxTokenLength) bytes")
        }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(parts[0]),
              let header = try? JSONDecoder().decode(JWTHeaderFields.self, from: Data(headerBytes)) else {
            throw OwnerServiceError(.invalidToken, "the token is not a JWT (header.payload.signature, base64url)")
        }
        guard header.alg == "ES256" else {
            throw OwnerServiceError(.invalidToken, "the token's algorithm is '\(printable(header.alg ?? "none"))', not ES256")
        }
        if let kid = header.kid, kid != keyID {
            throw OwnerServiceError(.invalidToken, "the token names the key '\(printable(kid))', not \(keyID)")
        }
    }

    /// The two header fields checked before the signature.
    private struct JWTHeaderFields: Decodable {
        var alg: String?
        var kid: String?
    }

    /// Whether `user` is a user name: `^[a-z0-9][a-z0-9._-]{0,63}$` (the owners' and agents' names).
    public static func isValidUser(_ user: String) -> Bool {
        let bytes = Array(user.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.enumerated().allSatisfy { index, byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
            case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"): return index > 0
            default: return false
            }
        }
    }

    /// A claim value as it may appear in a problem's detail: printable ASCII, at most 64 characters.
    static func printable(_ text: String) -> String {
        let cleaned = String(String.UnicodeScalarView(text.unicodeScalars.prefix(64).map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? $0 : "?" }))
        return text.unicodeScalars.count > 64 ? cleaned + "…" : cleaned
    }
}

/// Base64url without padding (RFC 4648 section 5), as JWTs use it.
enum Base64URL {
    /// The bytes of `text`, or `nil` when it is not base64url.
    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        guard !base64.contains("=") else { return nil }
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64).map { [UInt8]($0) }
    }

    /// `bytes` as base64url without padding.
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
