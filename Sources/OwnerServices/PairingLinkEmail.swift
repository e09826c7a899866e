import Foundation

/// OP-01b: the e-mail carrying a pairing deep link to the owner, composed per RFC 5322 with
/// MIME headers (RFC 2045): CRLF line ends, `text/plain; charset=utf-8`, 7bit, an ASCII body
/// whose lines are at most 78 characters — except the deep link, alone on its line so that
/// mail clients keep it whole (84 characters for a 17-character VIN: within RFC 5322's hard
/// limit of 998, and a URL cannot be folded).
public struct PairingLinkEmail: Sendable, Equatable {
    /// The sender's display name.
    public var fromName: String
    /// The sender's address.
    public var fromAddress: String
    /// The owner's address.
    public var to: String
    /// The vehicle.
    public var vin: String
    /// `spaak://pair?vin=…&token=…`.
    public var deepLink: String
    /// When the link expires.
    public var expiresAt: Date
    /// The Date header.
    public var date: Date
    /// The Message-ID header's value, with angle brackets.
    public var messageId: String

    /// The longest line the body has, apart from the deep link's.
    public static let maxLineLength = 78

    /// Creates the e-mail.
    public init(fromName: String, fromAddress: String, to: String, vin: String, deepLink: String, expiresAt: Date, date: Date,
                messageId: String) {
        self.fromName = fromName
        self.fromAddress = fromAddress
        self.to = to
        self.vin = vin
        self.deepLink = deepLink
        self.expiresAt = expiresAt
        self.date = date
        self.messageId = messageId
    }

    /// The header fields, in order.
    public var headers: [(name: String, value: String)] {
        [
            ("From", "\"\(fromName.filter { $0 != "\"" && $0 != "\\" })\" <\(fromAddress)>"),
            ("To", to),
            ("Subject", "Your vehicle's pairing link (VIN \(vin))"),
            ("Date", Self.rfc5322(date)),
            ("Message-ID", messageId),
            ("MIME-Version", "1.0"),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Transfer-Encoding", "7bit"),
        ]
    }

    /// The body's lines (ASCII).
    public var bodyLines: [String] {
        let validity = Self.hoursText(from: date, to: expiresAt)
        return ["Hello,", ""]
            + Self.wrap("A pairing link for your vehicle \(vin) was requested. Open it with the SpaaK app "
                        + "on the phone that is to become your vehicle key:")
            + ["", deepLink, ""]
            + Self.wrap("The link works once, only for your account, and expires on "
                        + "\(Self.readable(expiresAt))\(validity)".replacingOccurrences(of: " ", with: Self.glue)
                        + ". A newer link replaces this one.")
            + [""]
            + Self.wrap("What to do: sit in the vehicle with the phone, open the link in the app and follow it. "
                        + "The app fetches your pairing password, the vehicle opens its pairing window, and the app "
                        + "pairs the phone with the vehicle.")
            + [""]
            + Self.wrap("If you did not ask for this link, ignore this e-mail and tell the help centre. "
                        + "Nobody from the help centre will ask you for the link or the password.")
            + ["", "-- ", "Vehicle OEM Server (spaak-sim)"]
    }

    /// The whole message: headers, an empty line, the body; CRLF line ends.
    public var text: String {
        (headers.map { "\($0.name): \($0.value)" } + [""] + bodyLines).map { $0 + "\r\n" }.joined()
    }

    /// `text` as bytes (ASCII).
    public var bytes: [UInt8] { Array(text.utf8) }

    /// An RFC 5322 date-time in UTC, e.g. `Fri, 15 Jan 2027 08:00:00 +0000`.
    public static func rfc5322(_ date: Date) -> String {
        let c = utcComponents(date)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return "\(days[(c.weekday ?? 1) - 1]), \(two(c.day)) \(months[(c.month ?? 1) - 1]) \(c.year ?? 1970) "
            + "\(two(c.hour)):\(two(c.minute)):\(two(c.second)) +0000"
    }

    /// `2027-01-16 08:00 UTC`.
    static func readable(_ date: Date) -> String {
        let c = utcComponents(date)
        return "\(c.year ?? 1970)-\(two(c.month))-\(two(c.day)) \(two(c.hour)):\(two(c.minute)) UTC"
    }

    /// ` (in 24 hours)` for a whole number of hours, else empty.
    static func hoursText(from start: Date, to end: Date) -> String {
        let seconds = end.timeIntervalSince(start)
        guard seconds > 0, seconds.truncatingRemainder(dividingBy: 3600) == 0 else { return "" }
        let hours = Int(seconds / 3600)
        return " (in \(hours) hour\(hours == 1 ? "" : "s"))"
    }

    /// Joins words that `wrap` keeps on one line (it becomes a space).
    static let glue = "\u{1F}"

    /// Words wrapped into lines of at most 72 characters (a word longer stays whole; words
    /// joined by `glue` stay together).
    static func wrap(_ text: String, width: Int = 72) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if line.isEmpty {
                line = String(word)
            } else if line.count + 1 + word.count <= width {
                line += " " + word
            } else {
                lines.append(line)
                line = String(word)
            }
        }
        if !line.isEmpty { lines.append(line) }
        return lines.map { $0.replacingOccurrences(of: glue, with: " ") }
    }

    private static func utcComponents(_ date: Date) -> DateComponents {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        return calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
    }

    private static func two(_ value: Int?) -> String {
        let v = value ?? 0
        return v < 10 ? "0\(v)" : "\(v)"
    }
}
