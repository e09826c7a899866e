import Foundation
import Hummingbird
import OwnerServices

/// An RFC 9457 problem document as the owner services send it
/// (`application/problem+json`): `type` is `urn:spaak:problem:<reason>`, `instance` the
/// request's path, `reason` which step failed (the OpenAPI document's enum).
public struct ProblemDocument: Codable, Sendable, Equatable {
    /// `urn:spaak:problem:<reason>`.
    public var type: String
    /// The reason's fixed title.
    public var title: String
    /// The HTTP status.
    public var status: Int
    /// What exactly failed (never a password, token or key).
    public var detail: String
    /// The request's path.
    public var instance: String
    /// Which step failed.
    public var reason: String

    /// The document of `error` for the request at `path`.
    public init(_ error: OwnerServiceError, instance path: String) {
        type = "urn:spaak:problem:" + error.reason.rawValue
        title = error.reason.title
        status = error.reason.status
        detail = error.detail
        instance = path
        reason = error.reason.rawValue
    }
}

/// Responses of the owner services: JSON bodies (ISO 8601 dates) and problem documents.
public enum OwnerResponses {
    /// The media type of problem documents.
    public static let problemMediaType = "application/problem+json"
    /// The realm of the bearer challenges (RFC 6750).
    public static let realm = "spaak-vos"

    /// The encoder of every JSON body: ISO 8601 dates, sorted keys, `/` not escaped.
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// The `WWW-Authenticate` challenge of a 401 (RFC 6750 section 3): without an error for
    /// a missing token, `invalid_token` for a token that was refused; `nil` for other reasons.
    public static func challenge(for reason: ProblemReason) -> String? {
        switch reason {
        case .missingToken: return "Bearer realm=\"\(realm)\""
        case .invalidToken, .expiredToken, .wrongAudience: return "Bearer realm=\"\(realm)\", error=\"invalid_token\""
        default: return nil
        }
    }

    /// The problem response of `error` for the request at `path`; `allow` lists the methods
    /// of a 405's `Allow` header.
    public static func problem(_ error: OwnerServiceError, instance path: String, allow: [String] = []) -> Response {
        let document = ProblemDocument(error, instance: path)
        // Encoding five strings and an integer cannot fail.
        let body = (try? makeEncoder().encode(document)) ?? Data("{}".utf8)
        var headers: HTTPFields = [.contentType: problemMediaType]
        if let challenge = challenge(for: error.reason) { headers[.wwwAuthenticate] = challenge }
        if !allow.isEmpty { headers[.allow] = allow.joined(separator: ", ") }
        return Response(status: .init(code: error.reason.status), headers: headers,
                        body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// A JSON response of `value` with `status`.
    public static func json<Value: Encodable>(_ value: Value, status: Int = 200, headers extra: HTTPFields = [:]) throws(OwnerServiceError) -> Response {
        let body: Data
        do {
            body = try makeEncoder().encode(value)
        } catch {
            throw OwnerServiceError(.internalError, "the answer could not be encoded")
        }
        var headers = extra
        headers[.contentType] = "application/json"
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
