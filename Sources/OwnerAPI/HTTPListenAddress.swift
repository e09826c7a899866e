/// Where `spaak-cloud serve --http ADDRESS` listens: a loopback address and a port
/// (`127.0.0.1:8080`, `[::1]:8080`, `localhost:8080`; port 0 = one the system picks).
/// The owner services are a simulation: they never listen on another interface.
public struct HTTPListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// The host to bind: an IPv4 address in 127.0.0.0/8, `::1` or `localhost`.
    public var host: String
    /// The port (0 = ephemeral).
    public var port: Int

    /// Parses `HOST:PORT`.
    /// - Throws: `HTTPListenAddressError` for another form, a port outside 0…65535 or a host
    ///   that is not loopback.
    public init(parsing text: String) throws(HTTPListenAddressError) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw HTTPListenAddressError("'\(text)' is not [IPv6]:PORT")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
                throw HTTPListenAddressError("'\(text)' is not HOST:PORT (e.g. 127.0.0.1:8080)")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !portText.isEmpty, portText.allSatisfy(\.isASCII), portText.allSatisfy(\.isNumber), portText.count <= 5,
              let port = Int(portText), port <= 65535 else {
            throw HTTPListenAddressError("'\(portText)' is not a port (0…65535; 0 lets the system pick one)")
        }
        guard Self.isLoopback(String(host)) else {
            throw HTTPListenAddressError("'\(host)' is not a loopback address: the owner services listen on 127.0.0.0/8, ::1 or localhost only")
        }
        self.host = String(host)
        self.port = port
    }

    /// An address (`host` must be loopback; not checked).
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `HOST:PORT`, IPv6 in brackets.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The base URL with `port` (the bound one when `port` was 0).
    public func url(port: Int) -> String {
        "http://" + (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
    }

    /// Whether `host` is `localhost`, `::1` (also written out in full) or a dotted-quad IPv4
    /// address in 127.0.0.0/8.
    public static func isLoopback(_ host: String) -> Bool {
        if host.lowercased() == "localhost" { return true }
        if host.contains(":") {
            // ::1 and its longer spellings (0:0:0:0:0:0:0:1, ::0001).
            let groups = host.split(separator: ":", omittingEmptySubsequences: false)
            guard host.filter({ $0 == ":" }).count >= 2, groups.count <= 8,
                  groups.allSatisfy({ $0.count <= 4 && $0.allSatisfy(\.isHexDigit) }) else { return false }
            let values = groups.map { $0.isEmpty ? 0 : Int($0, radix: 16) ?? -1 }
            guard values.last == 1, values.dropLast().allSatisfy({ $0 == 0 }) else { return false }
            return groups.count == 8 || host.contains("::")
        }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return false }
        let values = octets.map { octet -> Int? in
            guard (1...3).contains(octet.count), octet.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int(octet).flatMap { $0 <= 255 ? $0 : nil }
        }
        return values.allSatisfy { $0 != nil } && values[0] == 127
    }
}

/// A `--http` address that cannot be used.
public struct HTTPListenAddressError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Why.
    public var description: String

    init(_ description: String) { self.description = description }
}
