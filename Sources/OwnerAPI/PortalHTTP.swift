import Foundation
import Hummingbird
import OwnerServices

/// The HTTP side of the portal's pages: HTML responses with their security headers,
/// redirects, the form body, the same-origin check.
enum PortalHTTP {
    /// Headers of every portal page: no caching (pages show deep links), no script at all,
    /// styles and forms from this server only, no framing, a referrer for this server only
    /// (`no-referrer` would make the browser send `Origin: null` with the portal's own forms).
    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        .xContentTypeOptions: "nosniff",
        .cacheControl: "no-store",
        HTTPFields.Element.Name("Referrer-Policy")!: "same-origin",
        HTTPFields.Element.Name("X-Frame-Options")!: "DENY",
    ]

    /// A page with `status`.
    static func html(_ html: String, status: Int = 200, setCookie: String? = nil) -> Response {
        var headers = securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        if let setCookie { headers[.setCookie] = setCookie }
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// `303 See Other` to `location` (after a form: the browser GETs the next page).
    static func seeOther(_ location: String, setCookie: String? = nil) -> Response {
        var headers = securityHeaders
        headers[.location] = location
        if let setCookie { headers[.setCookie] = setCookie }
        return Response(status: .seeOther, headers: headers)
    }

    /// The style sheet.
    static func css(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "max-age=300",
                                        .xContentTypeOptions: "nosniff"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// The session token of the request's cookie, `nil` without one.
    static func sessionToken(_ request: Request) -> String? {
        PortalSessionCookie.token(fromCookieHeaders: request.headers[values: .cookie])
    }

    /// A form post's body, parsed. Refuses (`invalidRequest`) a body from another site (an
    /// `Origin` that is not this server's: `SameSite=Strict` already keeps the session cookie
    /// off such a post), of another media type (`unsupportedMediaType`), larger than
    /// `PortalForm.maximumBodySize`, or not well formed.
    static func form(_ request: Request) async throws(OwnerServiceError) -> PortalForm {
        try checkOrigin(request)
        let mediaType = request.headers[.contentType]?.split(separator: ";").first?
            .trimmingCharacters(in: .whitespaces).lowercased()
        guard mediaType == "application/x-www-form-urlencoded" else {
            throw OwnerServiceError(.unsupportedMediaType, "a portal form is sent as application/x-www-form-urlencoded")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: PortalForm.maximumBodySize)
        } catch {
            throw OwnerServiceError(.invalidRequest, "the form is larger than \(PortalForm.maximumBodySize) bytes")
        }
        do {
            return try PortalForm.parse(Array(buffer: body))
        } catch {
            throw OwnerServiceError(.invalidRequest, error.description)
        }
    }

    /// A post whose `Origin` names another site is refused (a browser sends `Origin` with
    /// every form post; a client that sends none is not a browser on another site).
    static func checkOrigin(_ request: Request) throws(OwnerServiceError) {
        guard let origin = request.headers[.origin] else { return }
        let host = request.head.authority ?? ""
        guard origin == "http://" + host || origin == "https://" + host else {
            throw OwnerServiceError(.invalidRequest, "the form was sent from another site")
        }
    }
}
