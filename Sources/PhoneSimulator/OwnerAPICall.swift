#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The base address of the VOS's owner services (`spaak-cloud serve --http`), as the app is
/// configured with it: `http://HOST[:PORT][/PREFIX]` or `https://…`, no user, query or
/// fragment; a trailing `/` is dropped.
public struct OwnerAPIAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address without a trailing `/`.
    public let base: String

    /// Reads `text`, or throws why it is no usable address.
    public init(parsing text: String) throws(OwnerAPIFailure) {
        let bad = { (why: String) in OwnerAPIFailure.badAddress("\(text): \(why) (http://127.0.0.1:PORT expected)") }
        guard text.utf8.allSatisfy({ (0x21...0x7E).contains($0) }), text.utf8.count <= 512 else {
            throw bad("only printable ASCII, no spaces, at most 512 characters")
        }
        let rest: Substring
        if text.hasPrefix("http://") {
            rest = text.dropFirst(7)
        } else if text.hasPrefix("https://") {
            rest = text.dropFirst(8)
        } else {
            throw bad("the scheme must be http or https")
        }
        guard !rest.contains("?"), !rest.contains("#") else { throw bad("no query or fragment") }
        let host = rest.prefix { $0 != "/" }
        guard !host.isEmpty, !host.contains("@") else { throw bad("no host, or a user name in it") }
        var base = text
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base
    }

    public var description: String { base }

    /// The URL text of `call` at this address.
    public func url(of call: OwnerAPICall) -> String { base + call.path }
}

/// One request of the app to the owner services (the OpenAPI document's operations the app
/// uses); the `Authorization` header is the shell's.
public enum OwnerAPICall: Hashable, Sendable, CustomStringConvertible {
    /// OP-01a: `POST /v1/vehicles/{vin}/pairing-password`, the password with a delivery id.
    case requestPassword(vin: String)
    /// OP-01a: `POST /v1/vehicles/{vin}/pairing-password/confirmation`, receipt confirmed.
    case confirmDelivery(vin: String, deliveryId: String)
    /// OP-01a/b: `POST /v1/pairing-links/redemption`, a deep link's token for the password.
    case redeem(token: String)

    /// The HTTP method.
    public var method: String { "POST" }

    /// The path (below the address). The VIN is checked before a call is made (ISO 3779
    /// characters only): it needs no escaping.
    public var path: String {
        switch self {
        case .requestPassword(let vin): return "/v1/vehicles/\(vin)/pairing-password"
        case .confirmDelivery(let vin, _): return "/v1/vehicles/\(vin)/pairing-password/confirmation"
        case .redeem: return "/v1/pairing-links/redemption"
        }
    }

    /// The JSON body, `nil` for none.
    public var body: [UInt8]? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        switch self {
        case .requestPassword: return nil
        case .confirmDelivery(_, let deliveryId): return try? Array(encoder.encode(["deliveryId": deliveryId]))
        case .redeem(let token): return try? Array(encoder.encode(["token": token]))
        }
    }

    /// Whether asking again is harmless (the VOS answers the same): the app retries these
    /// when an answer is lost on the way; a redemption is good once and is not retried.
    public var isIdempotent: Bool {
        if case .redeem = self { return false }
        return true
    }

    /// `POST /v1/…` (never the token).
    public var description: String { "\(method) \(path)" }
}

/// Why the owner services gave the app no usable answer. The messages never contain a
/// password or a deep-link token.
public enum OwnerAPIFailure: Error, Hashable, Sendable, CustomStringConvertible {
    /// The VOS refused: an RFC 9457 problem document.
    case problem(status: Int, ProblemReply)
    /// An answer that is neither the expected JSON nor a problem document.
    case unexpected(status: Int, String)
    /// A 2xx answer whose JSON is not what the contract says.
    case malformedReply(status: Int, String)
    /// `--api` is no usable address.
    case badAddress(String)
    /// No answer at all (connection refused, timeout, …).
    case transport(String)

    public var description: String {
        switch self {
        case .problem(let status, let problem):
            return "\(problem.status ?? status) \(problem.reason ?? "no-reason"): \(problem.detail ?? problem.title ?? "no detail")"
        case .unexpected(let status, let what): return "\(status) unexpected answer: \(what)"
        case .malformedReply(let status, let what): return "\(status) answer not as the contract says: \(what)"
        case .badAddress(let what): return "--api \(what)"
        case .transport(let what): return what
        }
    }
}

/// An RFC 9457 problem document of the owner services (`application/problem+json`).
public struct ProblemReply: Decodable, Hashable, Sendable {
    public var type: String?
    public var title: String?
    public var status: Int?
    public var detail: String?
    public var instance: String?
    /// Which step failed (the contract's `reason`).
    public var reason: String?

    /// Creates a problem (tests).
    public init(type: String? = nil, title: String? = nil, status: Int? = nil, detail: String? = nil,
                instance: String? = nil, reason: String? = nil) {
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.instance = instance
        self.reason = reason
    }
}

/// Reading an answer of the owner services.
public enum OwnerAPIReply {
    /// The media type of `contentType` (parameters and case dropped), `nil` without one.
    static func mediaType(_ contentType: String?) -> String? {
        guard let contentType else { return nil }
        let type = contentType.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
        return trimmed(type).lowercased()
    }

    /// `T` from a 2xx JSON answer; a problem document of a 4xx/5xx answer, or anything else,
    /// as the failure it is.
    public static func decode<T: Decodable>(_ type: T.Type, status: Int, contentType: String?,
                                            body: [UInt8]) throws(OwnerAPIFailure) -> T {
        let media = mediaType(contentType)
        if (200...299).contains(status) {
            guard media == "application/json" else {
                throw .unexpected(status: status, "content type \(media ?? "none"), application/json expected")
            }
            do {
                return try JSONDecoder().decode(T.self, from: Data(body))
            } catch {
                throw .malformedReply(status: status, "not a \(T.self): \(error)")
            }
        }
        if status >= 400, media == "application/problem+json",
           let problem = try? JSONDecoder().decode(ProblemReply.self, from: Data(body)) {
            throw .problem(status: status, problem)
        }
        throw .unexpected(status: status, "content type \(media ?? "none"): \(excerpt(body))")
    }

    /// `text` without white space at either end.
    static func trimmed(_ text: String) -> String {
        String(text.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }

    /// The first printable characters of a body, for an error message.
    static func excerpt(_ body: [UInt8], limit: Int = 160) -> String {
        let text = String(decoding: body.prefix(limit), as: UTF8.self)
            .map { $0.isASCII && ($0.isLetter || $0.isNumber || $0.isPunctuation || $0 == " " || $0.isSymbol) ? $0 : " " }
        let shown = trimmed(String(text))
        return shown.isEmpty ? "an empty body" : (body.count > limit ? shown + "…" : shown)
    }
}
