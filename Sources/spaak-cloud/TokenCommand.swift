import ArgumentParser
import Dispatch
import Foundation
import OwnerAPI
import OwnerServices
import Synchronization

/// `spaak-cloud token`: a bearer token of the simulated identity provider, for curl, the
/// phone and the tests. Prints the JWT alone on stdout.
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print a bearer token (JWT, ES256) of the simulated identity provider.",
        discussion: """
            The owner services (`serve --http`) take it as `Authorization: Bearer TOKEN`; they \
            check its signature under the key file, the issuer spaak-sim-idp, the audience \
            spaak-vos, the expiry and the role. --audience, --issuer, a role or user they do not \
            know, and a TTL of 0 or less (already expired) make tokens they refuse, for tests \
            (a warning says so on stderr).
            """)

    @Option(help: "The identity provider's key (PEM, P-256; created 0600 when missing), the one `serve --idp-key` uses.")
    var idpKey = "./spaak-idp.pem"
    @Option(help: "The user (sub), e.g. alice.") var user: String
    @Option(help: "The role: owner (the app), portal (the customer portal) or hotline (a help-centre agent).") var role: String
    @Option(parsing: .unconditional, help: "Lifetime in seconds (0 or less: already expired).") var ttl: Int = 3600
    @Option(help: "The audience (aud).") var audience = TokenAuthority.audience
    @Option(help: "The issuer (iss).") var issuer = TokenAuthority.issuer

    func run() throws {
        var refused: [String] = []
        if CallerRole(rawValue: role) == nil { refused.append("role '\(role)' is not owner, portal or hotline") }
        if !TokenAuthority.isValidUser(user) { refused.append("user '\(user)' is not a user name (^[a-z0-9][a-z0-9._-]{0,63}$)") }
        if audience != TokenAuthority.audience { refused.append("audience '\(audience)' is not \(TokenAuthority.audience)") }
        if issuer != TokenAuthority.issuer { refused.append("issuer '\(issuer)' is not \(TokenAuthority.issuer)") }
        if ttl <= 0 { refused.append("a TTL of \(ttl) s makes an expired token") }
        for reason in refused { warn("warning: the owner services will refuse this token: \(reason)") }
        let authority: TokenAuthority
        do {
            let key = try IdentityKeyFile.loadOrCreate(path: idpKey)
            if key.created { warn("created the identity provider's key \(idpKey)") }
            authority = TokenAuthority(key: key.key)
        } catch {
            warn("\(error)")
            throw ExitCode(2)
        }
        let (user, role, ttl, audience, issuer) = (self.user, self.role, self.ttl, self.audience, self.issuer)
        let outcome = Mutex<Result<String, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let result: Result<String, any Error>
            do {
                result = .success(try await authority.sign(user: user, role: role, lifetime: TimeInterval(ttl),
                                                           audience: audience, issuer: issuer))
            } catch {
                result = .failure(error)
            }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        switch outcome.withLock({ $0 }) {
        case .success(let token)?:
            print(token)
        case .failure(let error)?:
            warn("cannot sign: \(error)")
            throw ExitCode.failure
        case nil:
            throw ExitCode.failure
        }
    }

    private func warn(_ text: String) {
        FileHandle.standardError.write(Data("spaak-cloud token: \(text)\n".utf8))
    }
}
