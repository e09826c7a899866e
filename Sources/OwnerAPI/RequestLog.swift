import Foundation
import OwnerServices
import Synchronization

/// What a handler tells the request's log line: who called and why it was refused. The
/// middleware binds one per request (`RequestNote.current`, a task-local); handlers of the
/// JSON API and the portal record into it. Never holds a password or a token.
public final class RequestNote: Sendable {
    private struct Fields {
        var user: String?
        var role: CallerRole?
        var reason: ProblemReason?
    }

    private let fields = Mutex(Fields())

    /// The note of the request being handled, `nil` outside a request.
    @TaskLocal public static var current: RequestNote?

    /// A blank note.
    public init() {}

    /// Records the caller (after its token was verified).
    public func record(caller: Caller) {
        fields.withLock {
            $0.user = caller.user
            $0.role = caller.role
        }
    }

    /// Records why the request was refused.
    public func record(reason: ProblemReason) {
        fields.withLock { $0.reason = reason }
    }

    /// `user=alice/owner reason=not-owner` (`-` for what is unknown).
    public var text: String {
        fields.withLock { fields in
            let user = fields.user.map { "\($0)/\(fields.role?.rawValue ?? "-")" } ?? "-"
            return "user=\(user) reason=\(fields.reason?.rawValue ?? "-")"
        }
    }

    /// Records `caller` into the current request's note (if any).
    public static func note(caller: Caller) { current?.record(caller: caller) }

    /// Records `reason` into the current request's note (if any).
    public static func note(reason: ProblemReason) { current?.record(reason: reason) }
}

/// The one-line access log of the HTTP server: method, path, status, user, reason, time.
public enum RequestLogLine {
    /// The longest path logged (longer ones are cut, with `…`).
    static let maxPath = 200

    /// `http POST /v1/vehicles/…/pairing-password 200 user=alice/owner reason=- 1.4 ms`.
    /// The path is logged without its query; characters outside printable ASCII become `?`.
    public static func format(method: String, path: String, status: Int, note: RequestNote, elapsed: Duration) -> String {
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        return "http \(printable(method, max: 16)) \(printable(path, max: maxPath)) \(status) \(note.text) \(String(format: "%.1f", ms)) ms"
    }

    /// `text` in printable ASCII (no spaces: a log line splits on them), cut at `max`.
    static func printable(_ text: String, max: Int) -> String {
        var out = ""
        for scalar in text.unicodeScalars.prefix(max) {
            out.unicodeScalars.append(scalar.isASCII && scalar.value > 0x20 && scalar.value < 0x7F ? scalar : "?")
        }
        return text.unicodeScalars.count > max ? out + "…" : out
    }
}
