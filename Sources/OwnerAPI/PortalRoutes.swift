import Foundation
import Hummingbird
import OwnerServices

/// The customer portal (`/portal`): server-rendered pages over the same owner services as
/// the JSON API, run on the event loop through the same mailbox, for the caller of the
/// session cookie (a token of the simulated identity provider, role `portal` or `hotline`).
///
/// Plug-in point of the HTTP server: `PortalRoutes(…).install(on: router)`.
///
/// | route | page |
/// |---|---|
/// | `GET /portal` | sign-in form (or on to the signed-in user's page) |
/// | `POST /portal/sign-in` | `user`, `role` = customer\|agent → cookie, 303 |
/// | `POST /portal/sign-out` | cookie cleared, 303 to `/portal` |
/// | `GET /portal/vehicles` | the owner's vehicles and hotline requests |
/// | `POST /portal/vehicles/{vin}/link` | the deep link |
/// | `POST /portal/vehicles/{vin}/email` | the deep link e-mailed |
/// | `POST /portal/requests/{id}/authorize` | a hotline request authorized (e-mailed) |
/// | `GET /portal/hotline` | the agent's page: request form, requests, fleet |
/// | `POST /portal/hotline/requests` | `vin` → a hotline request |
/// | `GET /portal/portal.css` | the style sheet |
///
/// A refusal is an HTML page with the problem's title, detail, reason and HTTP status.
public struct PortalRoutes<LoopContext>: Sendable {
    /// How long a session lasts (the cookie's Max-Age and the token's lifetime).
    public static var sessionLifetime: Int { 3600 }

    let mailbox: LoopMailbox<LoopContext>
    let services: @Sendable (LoopContext) -> OwnerServices
    let tokens: TokenAuthority
    let renderer: PortalRenderer
    let now: @Sendable () -> Date

    /// The portal over `mailbox` (whose jobs reach the owner services through `services`, on
    /// the loop thread), signing and verifying sessions with `tokens`.
    public init(mailbox: LoopMailbox<LoopContext>, services: @escaping @Sendable (LoopContext) -> OwnerServices,
                tokens: TokenAuthority, renderer: PortalRenderer, now: @escaping @Sendable () -> Date = { Date() }) {
        self.mailbox = mailbox
        self.services = services
        self.tokens = tokens
        self.renderer = renderer
        self.now = now
    }

    /// Adds the portal's routes to `router`.
    public func install<Context: RequestContext>(on router: Router<Context>) {
        let portal = self
        router.get("/portal") { request, _ in await portal.signInPage(request) }
        router.get("/portal/portal.css") { _, _ in PortalHTTP.css(portal.renderer.styleSheet) }
        router.post("/portal/sign-in") { request, _ in await portal.signIn(request) }
        router.post("/portal/sign-out") { request, _ in portal.signOut(request) }
        router.get("/portal/vehicles") { request, _ in
            await portal.page(request, form: false) { caller, _ in try await portal.vehiclesPage(caller) }
        }
        router.post("/portal/vehicles/{vin}/link") { request, context in
            let vin = context.parameters.get("vin") ?? ""
            return await portal.page(request, form: true) { caller, _ in
                let link = try await portal.run(caller) { services, caller, date in
                    try services.createLink(vin: vin, caller: caller, date: date)
                }
                // The page puts it in an href: only ever a spaak:// deep link.
                guard link.deepLink.hasPrefix("spaak://pair?") else {
                    throw OwnerServiceError(.internalError, "the pairing link is not a spaak://pair link")
                }
                return portal.renderer.render(PortalLinkPage(session: PortalSessionView(caller: caller), vin: link.vin,
                                                             deepLink: link.deepLink, expiresAt: PortalFormat.date(link.expiresAt)))
            }
        }
        router.post("/portal/vehicles/{vin}/email") { request, context in
            let vin = context.parameters.get("vin") ?? ""
            return await portal.page(request, form: true) { caller, _ in
                let sent = try await portal.run(caller) { services, caller, date in
                    try services.emailLink(vin: vin, caller: caller, date: date)
                }
                return portal.renderer.render(PortalEmailPage(session: PortalSessionView(caller: caller), vin: sent.vin, sentTo: sent.sentTo,
                                                              messageId: sent.messageId, expiresAt: PortalFormat.date(sent.expiresAt)))
            }
        }
        router.post("/portal/requests/{id}/authorize") { request, context in
            let id = context.parameters.get("id") ?? ""
            return await portal.page(request, form: true) { caller, _ in
                let authorized = try await portal.run(caller) { services, caller, date in
                    try services.authorizeHotlineRequest(id: id, caller: caller, date: date)
                }
                return portal.renderer.render(PortalRequestPage(
                    session: PortalSessionView(caller: caller), heading: "Request authorized",
                    summary: "The pairing link for vehicle \(authorized.vin) was e-mailed to your registered address.",
                    request: PortalViewModel.requestRow(authorized), backPath: "/portal/vehicles", backLabel: "Back to my vehicles"))
            }
        }
        router.get("/portal/hotline") { request, _ in
            await portal.page(request, form: false) { caller, _ in try await portal.hotlinePage(caller) }
        }
        router.post("/portal/hotline/requests") { request, _ in
            await portal.page(request, form: true) { caller, form in
                let vin = try form.required("vin").trimmingCharacters(in: .whitespaces).uppercased()
                let created = try await portal.run(caller) { services, caller, date in
                    try services.createHotlineRequest(vin: vin, caller: caller, date: date)
                }
                return portal.renderer.render(PortalRequestPage(
                    session: PortalSessionView(caller: caller), heading: "Request created",
                    summary: "The owner of vehicle \(created.vin) is asked to authorize it in the portal or the app; then the pairing link is e-mailed.",
                    request: PortalViewModel.requestRow(created), backPath: "/portal/hotline", backLabel: "Back to the hotline"))
            }
        }
    }

    /// Runs an owner service call on the event loop for `caller`, at the current time.
    func run<T: Sendable>(_ caller: Caller,
                          _ call: @escaping @Sendable (OwnerServices, Caller, Date) throws -> T) async throws(OwnerServiceError) -> T {
        let services = self.services
        let date = now()
        return try await mailbox.submit { (context: LoopContext) throws(OwnerServiceError) -> T in
            do { return try call(services(context), caller, date) } catch { throw Self.ownerError(error) }
        }
    }

    /// An error as an owner service refusal (the services and the form parser throw their
    /// own; anything else is an internal error).
    static func ownerError(_ error: any Error) -> OwnerServiceError {
        switch error {
        case let error as OwnerServiceError: return error
        case let error as PortalFormError: return OwnerServiceError(.invalidRequest, error.description)
        default: return OwnerServiceError(.internalError, "the portal could not answer")
        }
    }

    /// The caller of the request's session cookie.
    func caller(_ request: Request) async throws(OwnerServiceError) -> Caller {
        guard let token = PortalHTTP.sessionToken(request) else {
            throw OwnerServiceError(.missingToken, "you are not signed in (no session)")
        }
        let caller = try await tokens.verify(token, now: now())
        guard caller.role == .portal || caller.role == .hotline else {
            throw OwnerServiceError(.invalidToken, "a portal session is a customer's or an agent's, not the app's")
        }
        RequestNote.note(caller: caller)
        return caller
    }

    /// A signed-in page: the caller, the form (for a post), then `build`'s HTML; a refusal
    /// as an error page (a GET without a valid session: the sign-in page, 401).
    func page(_ request: Request, form isPost: Bool,
              _ build: @Sendable (Caller, PortalForm) async throws -> String) async -> Response {
        var caller: Caller?
        do {
            if isPost { try PortalHTTP.checkOrigin(request) }
            let signedIn = try await self.caller(request)
            caller = signedIn
            let form = isPost ? try await PortalHTTP.form(request) : PortalForm(fields: [:])
            return PortalHTTP.html(try await build(signedIn, form))
        } catch {
            let error = Self.ownerError(error)
            if caller == nil, !isPost, error.reason.status == 401 {
                RequestNote.note(reason: error.reason)
                return PortalHTTP.html(renderer.render(PortalSignInPage(notice: "Please sign in: \(error.detail).")), status: 401)
            }
            return refusal(error, caller)
        }
    }

    /// The error page of `error`.
    func refusal(_ error: OwnerServiceError, _ caller: Caller?) -> Response {
        RequestNote.note(reason: error.reason)
        let page = PortalErrorPage(error: error, session: caller.map(PortalSessionView.init(caller:)))
        return PortalHTTP.html(renderer.render(page), status: page.status)
    }

    /// `GET /portal`: on to the user's page with a valid session, else the form.
    func signInPage(_ request: Request) async -> Response {
        if let caller = try? await caller(request) {
            return PortalHTTP.seeOther(caller.role == .hotline ? "/portal/hotline" : "/portal/vehicles")
        }
        return PortalHTTP.html(renderer.render(PortalSignInPage()))
    }

    /// `POST /portal/sign-in`: the simulated identity provider signs the user in.
    func signIn(_ request: Request) async -> Response {
        let signIn: PortalSignIn
        do {
            signIn = try PortalSignIn(form: await PortalHTTP.form(request))
        } catch {
            let error = Self.ownerError(error)
            RequestNote.note(reason: error.reason)
            return PortalHTTP.html(renderer.render(PortalSignInPage(notice: "Not signed in: \(error.detail).")),
                                   status: error.reason.status)
        }
        let token: String
        do {
            token = try await tokens.sign(user: signIn.user, role: signIn.role.rawValue,
                                          lifetime: TimeInterval(Self.sessionLifetime), now: now())
        } catch {
            return refusal(OwnerServiceError(.internalError, "the identity provider could not sign the session"), nil)
        }
        RequestNote.note(caller: Caller(user: signIn.user, role: signIn.role))
        return PortalHTTP.seeOther(signIn.landingPath,
                                   setCookie: PortalSessionCookie.setCookie(token: token, maxAge: Self.sessionLifetime))
    }

    /// `POST /portal/sign-out`: the cookie is cleared (the token itself stays valid until it
    /// expires: the simulated IdP keeps no sessions).
    func signOut(_ request: Request) -> Response {
        do {
            try PortalHTTP.checkOrigin(request)
        } catch {
            return refusal(error, nil)
        }
        return PortalHTTP.seeOther("/portal", setCookie: PortalSessionCookie.clearCookie)
    }

    /// `GET /portal/vehicles`.
    func vehiclesPage(_ caller: Caller) async throws -> String {
        let (list, requests) = try await run(caller) { services, caller, _ in
            (try services.vehicles(caller: caller), try services.hotlineRequests(caller: caller))
        }
        return renderer.render(PortalVehiclesPage(session: PortalSessionView(caller: caller),
                                                  vehicles: list.vehicles.map(PortalViewModel.card),
                                                  requests: requests.map(PortalViewModel.requestRow)))
    }

    /// `GET /portal/hotline`.
    func hotlinePage(_ caller: Caller) async throws -> String {
        let (fleet, requests) = try await run(caller) { services, caller, _ in
            (try services.fleet(caller: caller), try services.hotlineRequests(caller: caller))
        }
        return renderer.render(PortalHotlinePage(session: PortalSessionView(caller: caller),
                                                 requests: requests.map(PortalViewModel.requestRow),
                                                 fleet: fleet.vehicles.map(PortalViewModel.fleetRow)))
    }
}
