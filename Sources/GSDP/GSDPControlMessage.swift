import Foundation

/// A GSDP control message: the JSON object of a WebSocket *text* message between a TBM and
/// the VOS (the ICD section 7 messages travel as binary messages, unchanged).
///
/// - `{"hello":{"tbm":"<name>","serials":["SPK0000000001"]}}`: TBM → VOS, first message.
/// - `{"welcome":{"instance":"<vos instance>"}}`: VOS → TBM, the answer; only then the TBM relays.
/// - `{"c2v":"<sha256 hex>","outcome":"delivered"}` or
///   `{"c2v":"<sha256 hex>","outcome":"not-sent","reason":"<text>"}`: TBM → VOS, after each
///   C2V binary message left (or could not leave) the bus.
///
/// Decoding is strict: anything else (not JSON, unknown or extra keys, wrong types, a bad
/// hash) is a `GSDPControlError`, which the receiver logs and ignores.
public enum GSDPControlMessage: Equatable, Sendable {
    case hello(GSDPHello)
    case welcome(GSDPWelcome)
    case c2vAck(GSDPC2VAck)

    /// The longest text accepted by `decode` (a hello with a few thousand serials fits).
    public static let maxTextLength = 256 * 1024

    /// The JSON text of the message (keys sorted, no insignificant white space).
    public var text: String {
        let object: [String: Any]
        switch self {
        case .hello(let hello):
            object = ["hello": ["tbm": hello.tbm, "serials": hello.serials]]
        case .welcome(let welcome):
            object = ["welcome": ["instance": welcome.instance]]
        case .c2vAck(let ack):
            switch ack.outcome {
            case .delivered:
                object = ["c2v": ack.sha256, "outcome": "delivered"]
            case .notSent(let reason):
                object = ["c2v": ack.sha256, "outcome": "not-sent", "reason": reason]
            }
        }
        // Only strings and arrays of strings: serialisation cannot fail.
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Parses a text message; throws `GSDPControlError` for anything but the three messages.
    public static func decode(_ text: String) throws -> GSDPControlMessage {
        guard text.utf8.count <= maxTextLength else { throw GSDPControlError.tooLong(text.utf8.count) }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        } catch {
            throw GSDPControlError.notJSON
        }
        guard let object = parsed as? [String: Any] else { throw GSDPControlError.notAnObject }
        let keys = Set(object.keys)
        if keys == ["hello"] {
            let body = try fields(object["hello"], of: "hello", allowed: ["tbm", "serials"], required: ["tbm", "serials"])
            let tbm = try nonEmptyString(body["tbm"], "hello.tbm")
            guard let list = body["serials"] as? [Any] else { throw GSDPControlError.malformed("hello.serials is not an array") }
            let serials = try list.map { try nonEmptyString($0, "hello.serials[]") }
            return .hello(GSDPHello(tbm: tbm, serials: serials))
        }
        if keys == ["welcome"] {
            let body = try fields(object["welcome"], of: "welcome", allowed: ["instance"], required: ["instance"])
            return .welcome(GSDPWelcome(instance: try nonEmptyString(body["instance"], "welcome.instance")))
        }
        if keys.contains("c2v") {
            guard keys.isSubset(of: ["c2v", "outcome", "reason"]), keys.contains("outcome") else {
                throw GSDPControlError.malformed("c2v ack keys \(keys.sorted())")
            }
            guard let hash = object["c2v"] as? String, GSDP.isSHA256Hex(hash) else {
                throw GSDPControlError.malformed("c2v is not a lowercase hex SHA-256")
            }
            guard let outcome = object["outcome"] as? String else { throw GSDPControlError.malformed("outcome is not a string") }
            switch outcome {
            case "delivered":
                guard !keys.contains("reason") else { throw GSDPControlError.malformed("reason with outcome delivered") }
                return .c2vAck(GSDPC2VAck(sha256: hash, outcome: .delivered))
            case "not-sent":
                guard let reason = object["reason"] as? String else { throw GSDPControlError.malformed("not-sent without a reason string") }
                return .c2vAck(GSDPC2VAck(sha256: hash, outcome: .notSent(reason: reason)))
            default:
                throw GSDPControlError.malformed("unknown outcome \"\(outcome.prefix(40))\"")
            }
        }
        throw GSDPControlError.unknownMessage(keys.sorted())
    }

    private static func fields(_ value: Any?, of name: String, allowed: Set<String>, required: Set<String>) throws -> [String: Any] {
        guard let body = value as? [String: Any] else { throw GSDPControlError.malformed("\(name) is not an object") }
        let keys = Set(body.keys)
        guard keys.isSubset(of: allowed), required.isSubset(of: keys) else {
            throw GSDPControlError.malformed("\(name) keys \(keys.sorted()), expected \(allowed.sorted())")
        }
        return body
    }

    private static func nonEmptyString(_ value: Any?, _ name: String) throws -> String {
        guard let string = value as? String, !string.isEmpty else { throw GSDPControlError.malformed("\(name) is not a non-empty string") }
        return string
    }
}

/// The TBM's first message: its name and the serials of the modules behind it (may be empty:
/// the VOS binds serials it authenticates later).
public struct GSDPHello: Equatable, Sendable {
    /// The TBM's name (for logs).
    public var tbm: String
    /// The module serials behind this TBM.
    public var serials: [String]

    /// Creates a hello.
    public init(tbm: String, serials: [String]) {
        self.tbm = tbm
        self.serials = serials
    }
}

/// The VOS's answer to a hello: from now on the TBM relays (`SpaakTopicSubscribed`).
public struct GSDPWelcome: Equatable, Sendable {
    /// The VOS instance that holds the connection.
    public var instance: String

    /// Creates a welcome.
    public init(instance: String) { self.instance = instance }
}

/// The TBM's report on one C2V binary message: delivered on the bus, or not sent.
public struct GSDPC2VAck: Equatable, Sendable {
    /// The SHA-256 of the message bytes, lowercase hex (`GSDP.sha256Hex`).
    public var sha256: String
    /// What became of it.
    public var outcome: GSDPC2VOutcome

    /// Creates an ack.
    public init(sha256: String, outcome: GSDPC2VOutcome) {
        self.sha256 = sha256
        self.outcome = outcome
    }

    /// The ack of `message` (its hash computed here).
    public init(message: [UInt8], outcome: GSDPC2VOutcome) {
        self.init(sha256: GSDP.sha256Hex(message), outcome: outcome)
    }
}

/// What became of a C2V message on the vehicle's bus.
public enum GSDPC2VOutcome: Equatable, Sendable {
    /// Completely transmitted (ISO-TP) on the C2V identifier.
    case delivered
    /// Not transmitted: the link was down, or ISO-TP failed.
    case notSent(reason: String)
}

/// Why a text message is not a GSDP control message.
public enum GSDPControlError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Longer than `GSDPControlMessage.maxTextLength` bytes.
    case tooLong(Int)
    /// Not valid JSON.
    case notJSON
    /// JSON, but not an object.
    case notAnObject
    /// An object with none of the known message keys.
    case unknownMessage([String])
    /// A known message with missing, extra or mistyped fields.
    case malformed(String)

    public var description: String {
        switch self {
        case .tooLong(let count): return "control message too long (\(count) bytes)"
        case .notJSON: return "control message is not JSON"
        case .notAnObject: return "control message is not a JSON object"
        case .unknownMessage(let keys): return "unknown control message (keys \(keys))"
        case .malformed(let detail): return "malformed control message: \(detail)"
        }
    }
}
