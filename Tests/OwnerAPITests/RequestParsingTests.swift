import Foundation
import Hummingbird
import OwnerServices
import Testing
@testable import OwnerAPI

/// The reason `body` throws with, nil when it does not throw.
private func reason(_ body: () throws(OwnerServiceError) -> Void) -> ProblemReason? {
    do {
        try body()
        return nil
    } catch {
        return error.reason
    }
}

@Suite("JSONRequestBody: the owner services' request bodies")
struct JSONRequestBodyTests {
    private let deliveryId = "0123456789abcdef0123456789abcdef"

    private func parse(_ text: String, _ fields: [JSONField] = [.deliveryId]) -> ProblemReason? {
        reason { () throws(OwnerServiceError) in _ = try JSONRequestBody.parse(Array(text.utf8), fields: fields) }
    }

    @Test("an object with exactly the fields, each matching its pattern")
    func good() throws {
        #expect(try JSONRequestBody.parse(Array(#"{"deliveryId":"\#(deliveryId)"}"#.utf8), fields: [.deliveryId]) == ["deliveryId": deliveryId])
        let token = String(repeating: "A", count: 21) + "-_" + String(repeating: "z", count: 20)
        #expect(try JSONRequestBody.parse(Array(" {\"token\" : \"\(token)\"}\n".utf8), fields: [.token]) == ["token": token])
        #expect(try JSONRequestBody.parse(Array(#"{"vin":"WDB1234567890ABCD"}"#.utf8), fields: [.vin]) == ["vin": "WDB1234567890ABCD"])
    }

    @Test("malformed, unknown member, missing member, wrong type, wrong pattern → invalid-request")
    func refused() {
        let cases = [
            "", "{", "null", "[]", "\"x\"", "42", "{\"deliveryId\":\"\(deliveryId)\"} x",
            "{}", "{\"deliveryID\":\"\(deliveryId)\"}",
            "{\"deliveryId\":\"\(deliveryId)\",\"extra\":1}",
            "{\"deliveryId\":42}", "{\"deliveryId\":null}", "{\"deliveryId\":[\"\(deliveryId)\"]}", "{\"deliveryId\":true}",
            "{\"deliveryId\":\"\(deliveryId.uppercased())\"}", "{\"deliveryId\":\"\(deliveryId)0\"}", "{\"deliveryId\":\"\"}",
        ]
        for text in cases { #expect(parse(text) == .invalidRequest, "\(text)") }
        #expect(parse(#"{"vin":"WDB1234567890ABCO"}"#, [.vin]) == .invalidRequest)
        #expect(parse(#"{"vin":"wdb1234567890abcd"}"#, [.vin]) == .invalidRequest)
        #expect(parse(#"{"token":"short"}"#, [.token]) == .invalidRequest)
        #expect(parse("{\"token\":\"\(String(repeating: "=", count: 43))\"}", [.token]) == .invalidRequest)
    }

    @Test("larger than 16 KiB → invalid-request")
    func oversized() {
        let padding = String(repeating: " ", count: JSONRequestBody.maxSize)
        #expect(parse("{\"deliveryId\":\"\(deliveryId)\"}" + padding) == .invalidRequest)
    }

    @Test("Content-Type: application/json (any case, with parameters); else 415; none and no body: 400")
    func contentType() {
        let check = { (type: String?, empty: Bool) in
            reason { () throws(OwnerServiceError) in try JSONRequestBody.checkContentType(type, bodyIsEmpty: empty) }
        }
        #expect(check("application/json", false) == nil)
        #expect(check("Application/JSON; charset=utf-8", false) == nil)
        #expect(check("text/plain", false) == .unsupportedMediaType)
        #expect(check("application/x-www-form-urlencoded", false) == .unsupportedMediaType)
        #expect(check("application/jsonx", false) == .unsupportedMediaType)
        #expect(check(nil, false) == .unsupportedMediaType)
        #expect(check(nil, true) == .invalidRequest)
    }
}

@Suite("HTTPListenAddress: loopback only")
struct HTTPListenAddressTests {
    @Test("127.0.0.0/8, ::1 and localhost, any port 0…65535")
    func accepted() throws {
        #expect(try HTTPListenAddress(parsing: "127.0.0.1:8080") == HTTPListenAddress(host: "127.0.0.1", port: 8080))
        #expect(try HTTPListenAddress(parsing: "127.1.2.3:0") == HTTPListenAddress(host: "127.1.2.3", port: 0))
        #expect(try HTTPListenAddress(parsing: "[::1]:65535") == HTTPListenAddress(host: "::1", port: 65535))
        #expect(try HTTPListenAddress(parsing: "localhost:80").host == "localhost")
        #expect(try HTTPListenAddress(parsing: "[0:0:0:0:0:0:0:1]:1").host == "0:0:0:0:0:0:0:1")
        #expect(HTTPListenAddress(host: "::1", port: 8080).url(port: 8081) == "http://[::1]:8081")
        #expect(HTTPListenAddress(host: "::1", port: 8080).description == "[::1]:8080")
    }

    @Test("refused: other interfaces, wildcard, names, bad ports, other forms")
    func refused() {
        for text in ["0.0.0.0:8080", "192.168.1.2:8080", "10.0.0.1:80", "[::]:8080", "[::2]:8080", "[fe80::1]:8080",
                     "example.com:8080", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:80a",
                     "127.0.0.256:80", "127.0.0:80", "::1:8080", "[::1]8080", ":8080", "", "127.0.0.1:8080:1",
                     "[::ffff:127.0.0.1]:80", "127.0.0.1 :80", "１２７.0.0.1:80"] {
            #expect(throws: HTTPListenAddressError.self, "\(text)") { try HTTPListenAddress(parsing: text) }
        }
    }
}

@Suite("RouteTable: 404 or 405")
struct RouteTableTests {
    @Test("a path of a route with other methods lists them; another path none")
    func methods() {
        let table = RouteTable()
        table.set([(method: "GET", path: "/v1/vehicles/{vin}"), (method: "HEAD", path: "/v1/vehicles/{vin}"),
                   (method: "POST", path: "/v1/vehicles/{vin}/pairing-password"), (method: "GET", path: "/health"),
                   (method: "GET", path: "/static/**")])
        #expect(table.methods(for: "/v1/vehicles/WDB1234567890ABCD") == ["GET", "HEAD"])
        #expect(table.methods(for: "/v1/vehicles/X/pairing-password") == ["POST"])
        #expect(table.methods(for: "/health/") == ["GET"])
        #expect(table.methods(for: "/static/a/b/c") == ["GET"])
        #expect(table.methods(for: "/v1/vehicles/X/other").isEmpty)
        #expect(table.methods(for: "/v1").isEmpty)
        #expect(table.methods(for: "/").isEmpty)
    }
}

@Suite("Problem documents and the request log line")
struct ProblemResponseTests {
    private func body(_ response: Response) async throws -> [String: Any] {
        let bytes = try await collectBody(response)
        return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    private func collectBody(_ response: Response) async throws -> [UInt8] {
        let collector = BodyCollector()
        try await response.body.write(collector)
        return collector.bytes
    }

    @Test("the document: type, title, status, detail, instance, reason; application/problem+json")
    func document() async throws {
        let response = OwnerResponses.problem(OwnerServiceError(.notOwner, "bob is not the registered owner of X"), instance: "/v1/vehicles/X")
        #expect(response.status.code == 403)
        #expect(response.headers[.contentType] == "application/problem+json")
        #expect(response.headers[.wwwAuthenticate] == nil)
        let json = try await body(response)
        #expect(json["type"] as? String == "urn:spaak:problem:not-owner")
        #expect(json["title"] as? String == ProblemReason.notOwner.title)
        #expect((json["status"] as? NSNumber)?.intValue == 403)
        #expect(json["detail"] as? String == "bob is not the registered owner of X")
        #expect(json["instance"] as? String == "/v1/vehicles/X")
        #expect(json["reason"] as? String == "not-owner")
    }

    @Test("every reason: its status; 401s carry the bearer challenge, 405 carries Allow")
    func reasons() {
        for reason in ProblemReason.allCases {
            let response = OwnerResponses.problem(OwnerServiceError(reason, "x"), instance: "/", allow: reason == .methodNotAllowed ? ["GET", "HEAD"] : [])
            #expect(response.status.code == reason.status)
            switch reason {
            case .missingToken:
                #expect(response.headers[.wwwAuthenticate] == #"Bearer realm="spaak-vos""#)
            case .invalidToken, .expiredToken, .wrongAudience:
                #expect(response.headers[.wwwAuthenticate] == #"Bearer realm="spaak-vos", error="invalid_token""#)
            default:
                #expect(response.headers[.wwwAuthenticate] == nil)
            }
            #expect(response.headers[.allow] == (reason == .methodNotAllowed ? "GET, HEAD" : nil))
        }
    }

    @Test("JSON bodies: ISO 8601 dates, slashes as they are")
    func json() async throws {
        let link = PairingLinkView(vin: "WDB1234567890ABCD", deepLink: "spaak://pair?vin=WDB1234567890ABCD&token=abc",
                                   expiresAt: Date(timeIntervalSince1970: 1_800_000_000))
        let response = try OwnerResponses.json(link, status: 201)
        #expect(response.status.code == 201)
        #expect(response.headers[.contentType] == "application/json")
        let text = String(decoding: try await collectBody(response), as: UTF8.self)
        #expect(text == #"{"deepLink":"spaak://pair?vin=WDB1234567890ABCD&token=abc","expiresAt":"2027-01-15T08:00:00Z","vin":"WDB1234567890ABCD"}"#)
    }

    @Test("log line: method, path without query, status, user, reason; odd characters replaced")
    func logLine() {
        let note = RequestNote()
        #expect(RequestLogLine.format(method: "GET", path: "/health", status: 200, note: note, elapsed: .microseconds(1500))
                == "http GET /health 200 user=- reason=- 1.5 ms")
        note.record(caller: Caller(user: "alice", role: .owner))
        note.record(reason: .notOwner)
        #expect(RequestLogLine.format(method: "POST", path: "/v1/a b\u{1}é", status: 403, note: note, elapsed: .milliseconds(2))
                == "http POST /v1/a?b?? 403 user=alice/owner reason=not-owner 2.0 ms")
        let long = "/" + String(repeating: "x", count: 300)
        #expect(RequestLogLine.format(method: "GET", path: long, status: 404, note: RequestNote(), elapsed: .zero).contains(String(repeating: "x", count: 199) + "…"))
    }
}

/// Collects a response body.
private final class BodyCollector: ResponseBodyWriter, @unchecked Sendable {
    var bytes: [UInt8] = []

    func write(_ buffer: ByteBuffer) async throws { bytes += buffer.readableBytesView }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
