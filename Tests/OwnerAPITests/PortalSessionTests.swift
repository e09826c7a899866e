import Testing
@testable import OwnerAPI

@Suite("Portal session cookie")
struct PortalSessionTests {
    private let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl-_"

    @Test("Set-Cookie: HttpOnly, SameSite=Strict, Path=/portal, Max-Age")
    func setCookie() {
        #expect(PortalSessionCookie.setCookie(token: jwt, maxAge: 3600)
            == "spaak_session=\(jwt); Path=/portal; Max-Age=3600; HttpOnly; SameSite=Strict")
        #expect(PortalSessionCookie.clearCookie == "spaak_session=; Path=/portal; Max-Age=0; HttpOnly; SameSite=Strict")
    }

    @Test("the token is found among other cookies, in one or several headers")
    func parse() {
        #expect(PortalSessionCookie.token(fromCookieHeaders: ["spaak_session=\(jwt)"]) == jwt)
        #expect(PortalSessionCookie.token(fromCookieHeaders: ["theme=dark; spaak_session=\(jwt); lang=en"]) == jwt)
        #expect(PortalSessionCookie.token(fromCookieHeaders: ["theme=dark", "spaak_session=\(jwt)"]) == jwt)
        #expect(PortalSessionCookie.token(fromCookieHeaders: ["theme=dark;spaak_session=\(jwt)"]) == jwt)
    }

    @Test("no token: absent, empty, twice, a look-alike name, characters no JWT has")
    func refused() {
        let cases: [[String]] = [
            [], [""], ["theme=dark"], ["spaak_session="], ["spaak_session"],
            ["spaak_session=\(jwt); spaak_session=\(jwt)"], ["spaak_session=a", "spaak_session=b"],
            ["xspaak_session=\(jwt)"], ["spaak_sessionx=\(jwt)"], ["spaak_session=\"\(jwt)\""],
            ["spaak_session=a b"], ["spaak_session=a%2Eb"], ["spaak_session=a=b"],
        ]
        for headers in cases {
            #expect(PortalSessionCookie.token(fromCookieHeaders: headers) == nil, "\(headers)")
        }
    }

    @Test("a cookie made is read back")
    func roundTrip() {
        let header = PortalSessionCookie.setCookie(token: jwt, maxAge: 60)
        let pair = String(header.prefix { $0 != ";" })
        #expect(PortalSessionCookie.token(fromCookieHeaders: [pair]) == jwt)
    }
}
