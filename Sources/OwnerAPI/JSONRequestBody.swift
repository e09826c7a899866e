import Foundation
import OwnerServices

/// A string field of a request body and the pattern its value must match.
public struct JSONField: Sendable {
    /// The JSON name.
    public var name: String
    /// The pattern, as the OpenAPI document writes it (for the detail of a refusal).
    public var pattern: String
    /// Whether a value matches the pattern.
    public var matches: @Sendable (String) -> Bool

    /// `deliveryId`: `^[0-9a-f]{32}$`.
    public static let deliveryId = JSONField(name: "deliveryId", pattern: "^[0-9a-f]{32}$") { value in
        value.utf8.count == 32 && value.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
    /// `token`: `^[A-Za-z0-9_-]{43}$` (a deep link's 32 random bytes, base64url).
    public static let token = JSONField(name: "token", pattern: "^[A-Za-z0-9_-]{43}$") { value in
        value.utf8.count == 43 && value.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D || byte == 0x5F
        }
    }
    /// `vin`: `^[A-HJ-NPR-Z0-9]{17}$` (ISO 3779: no I, O, Q).
    public static let vin = JSONField(name: "vin", pattern: "^[A-HJ-NPR-Z0-9]{17}$") { value in
        value.utf8.count == 17 && value.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || ((0x41...0x5A).contains(byte) && byte != 0x49 && byte != 0x4F && byte != 0x51)
        }
    }
}

/// The JSON bodies of the owner services: objects of required string fields and nothing
/// else (`additionalProperties: false`), at most 16 KiB, sent as `application/json`.
public enum JSONRequestBody {
    /// The largest body read (bytes).
    public static let maxSize = 16 * 1024

    /// Checks the `Content-Type` of a request that must carry a JSON body.
    /// - Throws: `unsupportedMediaType` for another media type (or none, with a body),
    ///   `invalidRequest` for no content type and no body.
    public static func checkContentType(_ contentType: String?, bodyIsEmpty: Bool) throws(OwnerServiceError) {
        guard let contentType else {
            if bodyIsEmpty { throw OwnerServiceError(.invalidRequest, "the request needs a JSON body (Content-Type: application/json)") }
            throw OwnerServiceError(.unsupportedMediaType, "the body has no Content-Type; it must be application/json")
        }
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        } ?? ""
        guard mediaType == "application/json" else {
            throw OwnerServiceError(.unsupportedMediaType, "the body is \(TokenAuthority.printable(mediaType)); it must be application/json")
        }
    }

    /// The values of `fields` in `bytes`: a JSON object with exactly these members, each a
    /// string matching its pattern.
    /// - Throws: `invalidRequest` saying what is wrong (not JSON, not an object, a member
    ///   missing, unknown, of another type or not matching).
    public static func parse(_ bytes: [UInt8], fields: [JSONField]) throws(OwnerServiceError) -> [String: String] {
        guard !bytes.isEmpty else { throw OwnerServiceError(.invalidRequest, "the body is empty; it must be a JSON object") }
        guard bytes.count <= maxSize else {
            throw OwnerServiceError(.invalidRequest, "the body is larger than \(maxSize) bytes")
        }
        let members: [String: Member]
        do {
            members = try JSONDecoder().decode([String: Member].self, from: Data(bytes))
        } catch {
            throw OwnerServiceError(.invalidRequest, "the body is not a JSON object")
        }
        let known = Set(fields.map(\.name))
        if let unknown = members.keys.sorted().first(where: { !known.contains($0) }) {
            throw OwnerServiceError(.invalidRequest, "unknown member '\(TokenAuthority.printable(unknown))' (allowed: \(fields.map(\.name).joined(separator: ", ")))")
        }
        var values: [String: String] = [:]
        for field in fields {
            guard let member = members[field.name] else {
                throw OwnerServiceError(.invalidRequest, "the member '\(field.name)' is missing")
            }
            guard case .string(let value) = member else {
                throw OwnerServiceError(.invalidRequest, "the member '\(field.name)' must be a string")
            }
            guard field.matches(value) else {
                throw OwnerServiceError(.invalidRequest, "the member '\(field.name)' does not match \(field.pattern)")
            }
            values[field.name] = value
        }
        return values
    }

    /// A member's value: a string, or anything else.
    private enum Member: Decodable {
        case string(String)
        case other

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self = .string(text)
            } else {
                self = .other
            }
        }
    }
}
