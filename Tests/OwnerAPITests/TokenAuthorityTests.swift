import Foundation
import Glibc
import JWTKit
import OwnerServices
import Testing
@testable import OwnerAPI

@Suite("TokenAuthority: bearer tokens of the simulated identity provider")
struct TokenAuthorityTests {
    private let authority = TokenAuthority(key: ES256PrivateKey())
    private let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// The reason `verify` refuses `token` with (nil when it accepts it).
    private func refusal(_ token: String, at date: Date? = nil) async -> ProblemReason? {
        do {
            _ = try await authority.verify(token, now: date ?? now)
            return nil
        } catch {
            return error.reason
        }
    }

    /// A token made by hand: `header` and `claims` as JSON, then `signature` (base64url).
    private func handmade(header: String, claims: String, signature: String) -> String {
        Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(claims.utf8)) + "." + signature
    }

    @Test("a token it signed verifies: the caller is the subject in its role")
    func good() async throws {
        for role in CallerRole.allCases {
            let token = try await authority.sign(user: "alice", role: role.rawValue, now: now)
            let caller = try await authority.verify(token, now: now.addingTimeInterval(3599))
            #expect(caller == Caller(user: "alice", role: role))
            #expect(try await authority.verify(authorization: "Bearer \(token)", now: now) == caller)
            #expect(try await authority.verify(authorization: "bearer  \(token)", now: now) == caller)
        }
    }

    @Test("the header says ES256, the key spaak-sim-idp, the type JWT; the claims are the design's")
    func form() async throws {
        let token = try await authority.sign(user: "bob", role: "hotline", lifetime: 60, now: now.addingTimeInterval(0.75))
        let parts = token.split(separator: ".").map { Base64URL.decode($0) ?? [] }
        let header = try JSONSerialization.jsonObject(with: Data(parts[0])) as? [String: String]
        #expect(header == ["alg": "ES256", "kid": "spaak-sim-idp", "typ": "JWT"])
        let claims = try #require(try JSONSerialization.jsonObject(with: Data(parts[1])) as? [String: Any])
        #expect(claims["iss"] as? String == "spaak-sim-idp")
        #expect(claims["aud"] as? [String] == ["spaak-vos"] || claims["aud"] as? String == "spaak-vos")
        #expect(claims["sub"] as? String == "bob")
        #expect(claims["role"] as? String == "hotline")
        // Whole seconds (a fraction of a second is dropped).
        let text = String(decoding: parts[1], as: UTF8.self)
        #expect(text.contains("\"iat\":1800000000,") || text.contains("\"iat\":1800000000}"))
        #expect(text.contains("\"exp\":1800000060,") || text.contains("\"exp\":1800000060}"))
    }

    @Test("expired at exp → expired-token")
    func expired() async throws {
        let token = try await authority.sign(user: "alice", role: "owner", lifetime: 60, now: now)
        #expect(await refusal(token, at: now.addingTimeInterval(59)) == nil)
        #expect(await refusal(token, at: now.addingTimeInterval(60)) == .expiredToken)
        let negative = try await authority.sign(user: "alice", role: "owner", lifetime: -1, now: now)
        #expect(await refusal(negative) == .expiredToken)
    }

    @Test("another audience → wrong-audience; another issuer → invalid-token")
    func audienceAndIssuer() async throws {
        #expect(await refusal(try await authority.sign(user: "alice", role: "owner", audience: "spaak-kts", now: now)) == .wrongAudience)
        #expect(await refusal(try await authority.sign(user: "alice", role: "owner", issuer: "evil-idp", now: now)) == .invalidToken)
    }

    @Test("signed by another key, or changed after signing → invalid-token")
    func otherKey() async throws {
        let other = TokenAuthority(key: ES256PrivateKey())
        #expect(await refusal(try await other.sign(user: "alice", role: "owner", now: now)) == .invalidToken)
        // Same header and signature, the claims raised to hotline.
        let token = try await authority.sign(user: "alice", role: "owner", now: now)
        let parts = token.split(separator: ".")
        let claims = String(decoding: try #require(Base64URL.decode(parts[1])), as: UTF8.self)
            .replacingOccurrences(of: "\"owner\"", with: "\"hotline\"")
        let forged = parts[0] + "." + Base64URL.encode(Array(claims.utf8)) + "." + parts[2]
        #expect(await refusal(String(forged)) == .invalidToken)
    }

    @Test("alg none, HS256, another kid, garbled → invalid-token")
    func garbled() async throws {
        let claims = #"{"iss":"spaak-sim-idp","aud":"spaak-vos","sub":"alice","role":"owner","iat":1800000000,"exp":1800003600}"#
        let signature = try await authority.sign(user: "alice", role: "owner", now: now).split(separator: ".")[2]
        let cases = [
            handmade(header: #"{"alg":"none","typ":"JWT"}"#, claims: claims, signature: ""),
            handmade(header: #"{"alg":"none"}"#, claims: claims, signature: String(signature)),
            handmade(header: #"{"alg":"HS256","kid":"spaak-sim-idp"}"#, claims: claims, signature: Base64URL.encode([UInt8](repeating: 7, count: 32))),
            handmade(header: #"{"alg":"ES256","kid":"other"}"#, claims: claims, signature: String(signature)),
            handmade(header: #"{"alg":"ES256"}"#, claims: claims, signature: String(signature)),
            handmade(header: "not json", claims: claims, signature: String(signature)),
            "", "abc", "a.b", "a.b.c", "a.b.c.d", "....", "é.é.é", String(repeating: "A", count: 5000),
        ]
        for token in cases { #expect(await refusal(token) == .invalidToken, "\(token.prefix(60))") }
    }

    @Test("a role it does not know, or a subject that is no user name → invalid-token")
    func unknownRole() async throws {
        #expect(await refusal(try await authority.sign(user: "alice", role: "admin", now: now)) == .invalidToken)
        #expect(await refusal(try await authority.sign(user: "alice", role: "Owner", now: now)) == .invalidToken)
        #expect(await refusal(try await authority.sign(user: "Alice Smith", role: "owner", now: now)) == .invalidToken)
        #expect(await refusal(try await authority.sign(user: "", role: "owner", now: now)) == .invalidToken)
    }

    @Test("no Authorization header, or not a bearer one → missing-token")
    func missing() async {
        for header in [nil, "", "Basic YWxpY2U6c2VjcmV0", "Bearer", "Token abc"] as [String?] {
            do {
                _ = try await authority.verify(authorization: header, now: now)
                Issue.record("accepted \(String(describing: header))")
            } catch {
                #expect(error.reason == .missingToken)
            }
        }
    }

    @Test("the refusal's detail names the failed check, never the token")
    func details() async throws {
        let token = try await authority.sign(user: "alice", role: "owner", audience: "spaak-kts", now: now)
        do {
            _ = try await authority.verify(token, now: now)
            Issue.record("a token for spaak-kts was accepted")
        } catch {
            #expect(error.detail.contains("spaak-kts"))
            #expect(!error.detail.contains(token))
        }
    }
}

@Suite("IdentityKeyFile: the identity provider's key file")
struct IdentityKeyFileTests {
    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("spaak-idp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test("created when missing (PKCS#8 PEM, 0600), the same key when loaded again")
    func createThenLoad() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("idp.pem").path
        let first = try IdentityKeyFile.loadOrCreate(path: path)
        #expect(first.created)
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        let second = try IdentityKeyFile.loadOrCreate(path: path)
        #expect(!second.created)
        #expect(second.key == first.key)
        let token = try await TokenAuthority(key: first.key).sign(user: "alice", role: "owner")
        #expect(try await TokenAuthority(keyFile: path).verify(token) == Caller(user: "alice", role: .owner))
    }

    @Test("refused: readable by others, not a key, a directory, in a missing folder")
    func refused() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let open = directory.appendingPathComponent("open.pem").path
        _ = try IdentityKeyFile.loadOrCreate(path: open)
        chmod(open, 0o644)
        #expect(throws: TokenKeyError.self) { try IdentityKeyFile.loadOrCreate(path: open) }
        let garbage = directory.appendingPathComponent("garbage.pem").path
        #expect(FileManager.default.createFile(atPath: garbage, contents: Data("not a key".utf8), attributes: [.posixPermissions: 0o600]))
        #expect(throws: TokenKeyError.self) { try IdentityKeyFile.loadOrCreate(path: garbage) }
        #expect(throws: TokenKeyError.self) { try IdentityKeyFile.loadOrCreate(path: directory.path) }
        #expect(throws: TokenKeyError.self) { try IdentityKeyFile.loadOrCreate(path: directory.appendingPathComponent("no/such/idp.pem").path) }
    }
}
