import OwnerServices
import Testing
@testable import OwnerAPI

@Suite("Portal templates")
struct PortalRenderingTests {
    private let hostile = "<script>alert(\"x\")</script>&'"
    private let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"

    private func renderer() throws -> PortalRenderer { try PortalRenderer.bundled() }

    private func card(vin: String) -> PortalVehicleCard {
        PortalVehicleCard(vin: vin, pathVIN: PortalFormat.pathSegment(vin), serial: "SPAAK-0001",
                          facts: [PortalFact("Pairing password", "available", tone: "ok", detail: hostile)],
                          canDeliver: true, deliveryNote: nil)
    }

    @Test("every template loads and the style sheet is there")
    func loads() throws {
        let renderer = try renderer()
        for name in PortalRenderer.templateNames {
            #expect(renderer.library.getTemplate(named: name) != nil, "\(name)")
        }
        #expect(renderer.styleSheet.contains(".badge"))
    }

    @Test("the sign-in page says the identity provider is simulated and has the two roles")
    func signIn() throws {
        let html = try renderer().render(PortalSignInPage(notice: hostile))
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("simulated identity provider"))
        #expect(html.contains("value=\"customer\"") && html.contains("value=\"agent\""))
        #expect(html.contains("action=\"/portal/sign-in\""))
        #expect(html.contains(escaped) && !html.contains(hostile))
        #expect(!html.contains("Sign out"))
        #expect(!html.contains("<script>"))
    }

    @Test("a hostile VIN and user name are escaped everywhere, in text and attributes")
    func vehiclesEscaped() throws {
        let session = PortalSessionView(caller: Caller(user: hostile, role: .portal))
        let page = PortalVehiclesPage(session: session, vehicles: [card(vin: hostile)], requests: [])
        let html = try renderer().render(page)
        #expect(!html.contains(hostile))
        #expect(!html.contains("<script>"))
        #expect(html.contains("id=\"vehicle-\(escaped)\""))
        #expect(html.contains("Signed in as <strong>\(escaped)</strong> (customer)"))
        // the action path carries the percent-encoded VIN: no quote, slash or angle bracket
        #expect(html.contains("action=\"/portal/vehicles/%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E%26%27/link\""))
        #expect(html.contains("Show my pairing link") && html.contains("E-mail me the link"))
        #expect(html.contains("No requests."))
    }

    @Test("the vehicles page lists requests with Authorize only while pending")
    func requests() throws {
        func row(_ id: String, pending: Bool) -> PortalRequestRow {
            PortalRequestRow(id: id, shortID: String(id.prefix(8)), vin: "WSPAAK00000000001", agent: "carol",
                             state: pending ? "awaiting-authorization" : "sent", tone: pending ? "warn" : "ok",
                             detail: nil, createdAt: "2025-01-01 10:00 UTC", authorizedAt: nil, messageId: nil, pending: pending)
        }
        let pending = String(repeating: "a", count: 32)
        let sent = String(repeating: "b", count: 32)
        let page = PortalVehiclesPage(session: PortalSessionView(caller: Caller(user: "alice", role: .portal)),
                                      vehicles: [], requests: [row(pending, pending: true), row(sent, pending: false)])
        let html = try renderer().render(page)
        #expect(html.contains("action=\"/portal/requests/\(pending)/authorize\""))
        #expect(!html.contains("/portal/requests/\(sent)/authorize"))
        #expect(html.contains("No vehicle is registered to <strong>alice</strong>"))
        #expect(!html.contains("No requests."))
    }

    @Test("the error page shows the problem's title, detail, reason and status")
    func errorPage() throws {
        let error = OwnerServiceError(.notOwner, "vehicle \(hostile) belongs to someone else")
        let page = PortalErrorPage(error: error, session: PortalSessionView(caller: Caller(user: "bob", role: .portal)))
        #expect(page.status == 403)
        let html = try renderer().render(page)
        #expect(html.contains("HTTP 403"))
        #expect(html.contains(ProblemReason.notOwner.title))
        #expect(html.contains("vehicle \(escaped) belongs to someone else"))
        #expect(html.contains("<code>not-owner</code>"))
        #expect(html.contains("href=\"/portal/vehicles\""))
        let signedOut = PortalErrorPage(error: OwnerServiceError(.expiredToken, "the session has expired"), session: nil)
        #expect(try renderer().render(signedOut).contains("href=\"/portal\">Sign in"))
        let agent = PortalErrorPage(error: OwnerServiceError(.unknownVehicle, "x"),
                                    session: PortalSessionView(caller: Caller(user: "carol", role: .hotline)))
        #expect(agent.backPath == "/portal/hotline")
    }

    @Test("the link page shows the deep link as a link and as text")
    func linkPage() throws {
        let link = "spaak://pair?vin=WSPAAK00000000001&token=" + String(repeating: "A", count: 43)
        let page = PortalLinkPage(session: PortalSessionView(caller: Caller(user: "alice", role: .portal)),
                                  vin: "WSPAAK00000000001", deepLink: link, expiresAt: "2025-01-02 10:00 UTC")
        let html = try renderer().render(page)
        let attribute = link.replacingOccurrences(of: "&", with: "&amp;")
        #expect(html.contains("<a href=\"\(attribute)\" id=\"deep-link\">"))
        #expect(html.contains("value=\"\(attribute)\""))
    }

    @Test("the hotline page has the VIN form, the requests and the fleet")
    func hotlinePage() throws {
        let fact = PortalFact("x", hostile, tone: "ok")
        let row = PortalFleetRow(serial: "SPAAK-0001", vin: "WSPAAK00000000001", owner: hostile, drmUUID: "00ff",
                                 identity: fact, verifier: fact, password: fact, ownerKey: fact, lastUseCase: fact)
        let page = PortalHotlinePage(session: PortalSessionView(caller: Caller(user: "carol", role: .hotline)),
                                     requests: [], fleet: [row, row])
        let html = try renderer().render(page)
        #expect(html.contains("action=\"/portal/hotline/requests\""))
        #expect(html.contains("name=\"vin\""))
        #expect(html.contains("2 vehicles"))
        #expect(html.contains("No requests yet."))
        #expect(html.contains("(help-centre agent)"))
        #expect(!html.contains(hostile))
        #expect(html.components(separatedBy: escaped).count == 13)  // 5 facts and the owner, twice
    }
}
