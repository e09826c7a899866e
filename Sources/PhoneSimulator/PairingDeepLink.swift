/// The pairing-password deep link of the Vehicle OEM Server (OP-01a/OP-01b):
/// `spaak://pair?vin=<VIN>&token=<token>`, read as strictly as the owner's app must read a
/// link that may come from anywhere (an e-mail, a web page): scheme `spaak` and host `pair`
/// exactly, no user, port, path or fragment, and a query of exactly the two parameters `vin`
/// (ISO 3779: 17 characters, no I, O, Q) and `token` (the one-time token: 43 characters of
/// base64url without padding, i.e. 32 bytes, in its canonical form), each once, in either
/// order, without percent-encoding (neither value needs any).
///
/// The token stands for the password until it is redeemed: no error message and no
/// description repeats it (`redacted` shows the link without it).
public struct PairingDeepLink: Hashable, Sendable {
    /// The vehicle.
    public let vin: String
    /// The one-time token to redeem (`POST /v1/pairing-links/redemption`).
    public let token: String

    /// The link's fixed beginning.
    public static let prefix = "spaak://pair?"
    /// Longer texts are refused before they are looked at (the link has 80 characters).
    public static let maximumLength = 256

    /// Reads `text`, or throws what is wrong with it.
    public init(parsing text: String) throws(PairingDeepLinkError) {
        let bytes = Array(text.utf8)
        guard bytes.count <= Self.maximumLength else { throw .tooLong(bytes.count) }
        guard bytes.allSatisfy({ (0x21...0x7E).contains($0) }) else { throw .notPrintableASCII }
        guard let colon = text.firstIndex(of: ":"), text[..<colon] == "spaak" else { throw .wrongScheme }
        guard text.hasPrefix("spaak://") else { throw .noAuthority }
        guard !text.contains("#") else { throw .fragment }
        let afterSlashes = text.dropFirst("spaak://".count)
        let authorityEnd = afterSlashes.firstIndex { $0 == "/" || $0 == "?" } ?? afterSlashes.endIndex
        let authority = afterSlashes[..<authorityEnd]
        guard authority == "pair" else { throw .wrongHost }
        guard authorityEnd < afterSlashes.endIndex, afterSlashes[authorityEnd] == "?" else { throw .path }
        let query = afterSlashes[afterSlashes.index(after: authorityEnd)...]
        var values: [String: String] = [:]
        for pair in query.split(separator: "&", omittingEmptySubsequences: false) {
            guard let equals = pair.firstIndex(of: "=") else { throw .malformedParameter }
            let name = String(pair[..<equals])
            let value = String(pair[pair.index(after: equals)...])
            guard name == "vin" || name == "token" else { throw .unknownParameter(Self.printable(name)) }
            guard values[name] == nil else { throw .repeatedParameter(name) }
            values[name] = value
        }
        guard let vin = values["vin"] else { throw .missingParameter("vin") }
        guard let token = values["token"] else { throw .missingParameter("token") }
        guard Self.isVIN(vin) else { throw .invalidVIN }
        try Self.checkToken(token)
        self.vin = vin
        self.token = token
    }

    /// The link as the VOS writes it.
    public var text: String { "\(Self.prefix)vin=\(vin)&token=\(token)" }

    /// The link with the token left out, for logs.
    public var redacted: String { "\(Self.prefix)vin=\(vin)&token=<\(token.count) characters>" }

    /// A VIN of ISO 3779's syntax: 17 of `A`–`Z` without `I`, `O`, `Q`, and `0`–`9`.
    public static func isVIN(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.count == 17 && bytes.allSatisfy { byte in
            (0x30...0x39).contains(byte) || ((0x41...0x5A).contains(byte) && byte != 0x49 && byte != 0x4F && byte != 0x51)
        }
    }

    /// The alphabet of base64url (RFC 4648 section 5).
    static let base64URL = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// A token of 32 bytes in unpadded base64url: 43 characters of the alphabet, the last one
    /// carrying 4 bits of data and 2 zero bits (any other last character is not canonical).
    static func checkToken(_ token: String) throws(PairingDeepLinkError) {
        let bytes = Array(token.utf8)
        guard bytes.count == 43 else { throw .invalidToken("\(bytes.count) characters, 43 expected") }
        var last = 0
        for byte in bytes {
            guard let index = base64URL.firstIndex(of: byte) else {
                throw .invalidToken("a character outside base64url (A-Z a-z 0-9 - _)")
            }
            last = index
        }
        guard last % 4 == 0 else { throw .invalidToken("not the canonical base64url of 32 bytes (its last character)") }
    }

    /// A parameter name for an error message: a short word as it is, anything else only by
    /// its length (a mangled link may put the token where a name belongs).
    static func printable(_ name: String) -> String {
        let bytes = Array(name.utf8)
        let word = bytes.count <= 12 && bytes.allSatisfy { (0x61...0x7A).contains($0) || (0x41...0x5A).contains($0) }
        return word ? "\"\(name)\"" : "of \(bytes.count) characters"
    }
}

/// Why a text is no pairing deep link. The messages never contain the token.
public enum PairingDeepLinkError: Error, Hashable, Sendable, CustomStringConvertible {
    case tooLong(Int)
    case notPrintableASCII
    case wrongScheme
    case noAuthority
    case wrongHost
    case path
    case fragment
    case malformedParameter
    case unknownParameter(String)
    case repeatedParameter(String)
    case missingParameter(String)
    case invalidVIN
    case invalidToken(String)

    public var description: String {
        let link = "not a pairing link (spaak://pair?vin=VIN&token=TOKEN)"
        switch self {
        case .tooLong(let count): return "\(link): \(count) bytes, at most \(PairingDeepLink.maximumLength)"
        case .notPrintableASCII: return "\(link): only printable ASCII without spaces is allowed"
        case .wrongScheme: return "\(link): the scheme is not spaak"
        case .noAuthority: return "\(link): spaak: must be followed by //pair"
        case .wrongHost: return "\(link): the host is not pair (no user, port or other host)"
        case .path: return "\(link): a path or no query after spaak://pair"
        case .fragment: return "\(link): a fragment (#) is not allowed"
        case .malformedParameter: return "\(link): a query parameter without =, or an empty one"
        case .unknownParameter(let name): return "\(link): unknown parameter \(name) (only vin and token)"
        case .repeatedParameter(let name): return "\(link): \(name) given twice"
        case .missingParameter(let name): return "\(link): no \(name)"
        case .invalidVIN: return "\(link): vin is not 17 characters of A-Z (no I, O, Q) and 0-9"
        case .invalidToken(let why): return "\(link): token is \(why)"
        }
    }
}
