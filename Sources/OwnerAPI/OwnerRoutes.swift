import Foundation
import Hummingbird
import OwnerServices

/// The `/v1` routes of the OpenAPI document (`Resources/openapi.yaml`): each verifies the
/// bearer token (401), reads and checks its body (415, 400), then runs one owner service on
/// the event loop through the mailbox and answers its DTO as JSON (or its problem).
/// After a delivery (confirmation, redemption) the same loop job sends
/// OwnerPairingModeRequest 0x0E and puts the outcome in `pairingModeRequest`.
public enum OwnerRoutes {
    /// Adds the routes to `router`.
    public static func install<Context: RequestContext>(on router: Router<Context>, context http: OwnerHTTPContext) {
        let v1 = router.group("v1")
        v1.get("vehicles") { request, _ in
            let caller = try await authenticate(request, http)
            return try OwnerResponses.json(try await http.run { loop throws(OwnerServiceError) in try loop.services.vehicles(caller: caller) })
        }
        v1.get("vehicles/{vin}") { request, context in
            let (caller, vin) = (try await authenticate(request, http), parameter("vin", context))
            return try OwnerResponses.json(try await http.run { loop throws(OwnerServiceError) in try loop.services.vehicle(vin: vin, caller: caller) })
        }
        v1.post("vehicles/{vin}/pairing-password") { request, context in
            let (caller, vin) = (try await authenticate(request, http), parameter("vin", context))
            return try OwnerResponses.json(try await http.run { loop throws(OwnerServiceError) in
                try loop.services.requestPassword(vin: vin, caller: caller, date: loop.date)
            })
        }
        v1.post("vehicles/{vin}/pairing-password/confirmation") { request, context in
            let (caller, vin) = (try await authenticate(request, http), parameter("vin", context))
            let body = try await jsonBody(request, fields: [.deliveryId])
            let deliveryId = body["deliveryId", default: ""]
            return try OwnerResponses.json(try await http.run { loop throws(OwnerServiceError) in
                let outcome = try loop.services.confirmDelivery(vin: vin, deliveryId: deliveryId, caller: caller, date: loop.date)
                var delivery = outcome.delivery
                if outcome.newlyDelivered { delivery.pairingModeRequest = loop.requestPairingMode(serial: outcome.serial) }
                return delivery
            })
        }
        v1.post("vehicles/{vin}/pairing-link") { request, context in
            let (caller, vin) = (try await authenticate(request, http), parameter("vin", context))
            return try OwnerResponses.json(try await http.run { loop throws(OwnerServiceError) in
                try loop.services.createLink(vin: vin, caller: caller, date: loop.date)
            }, status: 201)
        }
        v1.post("vehicles/{vin}/pairing-link/email") { request, context in
            let (caller, vin) = (try await authenticate(request, http), parameter("vin", context))
            return try OwnerResponses.json(try await http.run { loop throws(OwnerServiceError) in
                try loop.services.emailLink(vin: vin, caller: caller, date: loop.date)
            }, status: 202)
        }
        v1.post("pairing-links/redemption") { request, _ in
            let caller = try await authenticate(request, http)
            let token = try await jsonBody(request, fields: [.token])["token", default: ""]
            return try OwnerResponses.json(try await http.run { loop throws(OwnerServiceError) in
                let outcome = try loop.services.redeem(token: token, caller: caller, date: loop.date)
                var password = outcome.password
                password.pairingModeRequest = loop.requestPairingMode(serial: outcome.serial)
                return password
            })
        }
        v1.post("hotline/requests") { request, _ in
            let caller = try await authenticate(request, http)
            let vin = try await jsonBody(request, fields: [.vin])["vin", default: ""]
            let created = try await http.run { loop throws(OwnerServiceError) in
                try loop.services.createHotlineRequest(vin: vin, caller: caller, date: loop.date)
            }
            return try OwnerResponses.json(created, status: 201, headers: [.location: "/v1/hotline/requests/\(created.id)"])
        }
        v1.get("hotline/requests/{id}") { request, context in
            let (caller, id) = (try await authenticate(request, http), parameter("id", context))
            return try OwnerResponses.json(try await http.run { loop throws(OwnerServiceError) in
                try loop.services.hotlineRequest(id: id, caller: caller)
            })
        }
        v1.post("hotline/requests/{id}/authorization") { request, context in
            let (caller, id) = (try await authenticate(request, http), parameter("id", context))
            return try OwnerResponses.json(try await http.run { loop throws(OwnerServiceError) in
                try loop.services.authorizeHotlineRequest(id: id, caller: caller, date: loop.date)
            })
        }
        v1.get("fleet") { request, _ in
            let caller = try await authenticate(request, http)
            return try OwnerResponses.json(try await http.run { loop throws(OwnerServiceError) in try loop.services.fleet(caller: caller) })
        }
    }

    /// The caller of the request's bearer token.
    static func authenticate(_ request: Request, _ http: OwnerHTTPContext) async throws(OwnerServiceError) -> Caller {
        try await http.authenticate(authorization: request.headers[.authorization])
    }

    /// A path parameter as sent (not percent-decoded: a VIN or an id has no escapes; one
    /// that has them fails the service's syntax check).
    static func parameter(_ name: String, _ context: some RequestContext) -> String {
        context.parameters.get(name) ?? ""
    }

    /// The members of the request's JSON body (`application/json`, at most 16 KiB, exactly `fields`).
    static func jsonBody(_ request: Request, fields: [JSONField]) async throws(OwnerServiceError) -> [String: String] {
        // A wrong media type is refused before reading; a missing one once the body shows
        // whether there is anything (nothing at all is a 400, not a 415).
        let contentType = request.headers[.contentType]
        if contentType != nil { try JSONRequestBody.checkContentType(contentType, bodyIsEmpty: false) }
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > JSONRequestBody.maxSize {
            throw OwnerServiceError(.invalidRequest, "the body is larger than \(JSONRequestBody.maxSize) bytes")
        }
        var bytes: [UInt8] = []
        do {
            for try await buffer in request.body {
                guard bytes.count + buffer.readableBytes <= JSONRequestBody.maxSize else {
                    throw OwnerServiceError(.invalidRequest, "the body is larger than \(JSONRequestBody.maxSize) bytes")
                }
                bytes += buffer.readableBytesView
            }
        } catch let error as OwnerServiceError {
            throw error
        } catch {
            throw OwnerServiceError(.invalidRequest, "the body could not be read")
        }
        if contentType == nil { try JSONRequestBody.checkContentType(nil, bodyIsEmpty: bytes.isEmpty) }
        return try JSONRequestBody.parse(bytes, fields: fields)
    }
}
