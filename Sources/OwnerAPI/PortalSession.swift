import OwnerServices

/// The portal's session cookie `spaak_session`: the JWT of the simulated identity provider
/// (role `portal` or `hotline`), `HttpOnly` (no script reads it), `SameSite=Strict` (no
/// other site's form posts with it), `Path=/portal` (the JSON API never sees it).
public enum PortalSessionCookie {
    /// The cookie's name.
    public static let name = "spaak_session"
    /// The cookie's path.
    public static let path = "/portal"

    /// The `Set-Cookie` value that starts a session lasting `maxAge` seconds.
    /// - Precondition: `token` is a JWT (base64url parts and dots: cookie-safe).
    public static func setCookie(token: String, maxAge: Int) -> String {
        precondition(isCookieSafe(token), "a JWT is base64url and dots")
        return "\(name)=\(token); Path=\(path); Max-Age=\(maxAge); HttpOnly; SameSite=Strict"
    }

    /// The `Set-Cookie` value that ends the session (an empty value that expires at once).
    public static let clearCookie = "\(name)=; Path=\(path); Max-Age=0; HttpOnly; SameSite=Strict"

    /// The session token in the request's `Cookie` headers (RFC 6265 section 5.4: `name=value`
    /// pairs separated by `; `), or `nil` when there is none, it is empty or given twice, or
    /// holds characters no JWT has.
    public static func token(fromCookieHeaders headers: [String]) -> String? {
        var found: [Substring] = []
        for header in headers {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " || $0 == "\t" }
                guard let equals = trimmed.firstIndex(of: "=") else { continue }
                guard trimmed[trimmed.startIndex..<equals] == name else { continue }
                found.append(trimmed[trimmed.index(after: equals)...])
            }
        }
        guard found.count == 1, let value = found.first, !value.isEmpty, isCookieSafe(value) else { return nil }
        return String(value)
    }

    /// Whether every character is one of a JWT's (base64url and `.`).
    static func isCookieSafe(_ text: some StringProtocol) -> Bool {
        text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                return true
            default:
                return false
            }
        }
    }
}

/// A sign-in at the portal's simulated identity provider: any well-formed user name signs in
/// (no password: the IdP is a simulation); "customer" gets the role `portal`, "agent" (a
/// help-centre agent) the role `hotline`.
public struct PortalSignIn: Sendable, Equatable {
    /// The user name.
    public var user: String
    /// The role the session token carries.
    public var role: CallerRole

    /// Creates a sign-in.
    public init(user: String, role: CallerRole) {
        self.user = user
        self.role = role
    }

    /// The sign-in a form asks for (fields `user` and `role` = `customer` | `agent`).
    /// - Throws: `PortalFormError` when a field is missing, the user name does not match
    ///   `^[a-z0-9][a-z0-9._-]{0,63}$` or the role is another word.
    public init(form: PortalForm) throws(PortalFormError) {
        let user = try form.required("user")
        guard Self.isValidUser(user) else {
            throw PortalFormError("a user name is 1 to 64 characters a-z, 0-9, '.', '_', '-', starting with a letter or digit")
        }
        switch try form.required("role") {
        case "customer": self.init(user: user, role: .portal)
        case "agent": self.init(user: user, role: .hotline)
        default: throw PortalFormError("the role is 'customer' or 'agent'")
        }
    }

    /// Where the portal goes after signing in: the owner's vehicles or the hotline page.
    public var landingPath: String {
        role == .hotline ? "/portal/hotline" : "/portal/vehicles"
    }

    /// Whether `user` matches `^[a-z0-9][a-z0-9._-]{0,63}$` (the owners' user names; the
    /// token authority accepts no other subject).
    public static func isValidUser(_ user: String) -> Bool { TokenAuthority.isValidUser(user) }
}
