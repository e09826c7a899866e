import CloudSimulator
import Foundation
import OwnerServices

/// What a mailbox job gets on the event-loop thread: the owner services (over the VOS's
/// repository), the wall clock, and the simulator's control commands (their frames go on
/// the bus at once). Lives on the loop thread only.
public final class LoopContext {
    /// The owner services.
    public let services: OwnerServices
    private let clock: () -> Date
    private let controlHandler: (ControlCommand) -> (ok: Bool, text: String)

    /// A context over `services`; `control` executes a command on the simulator and
    /// performs its step (as `spaak-cloud ctl` does) and returns its reply (`ok` false when
    /// refused, and the text), `clock` tells the time.
    public init(services: OwnerServices, clock: @escaping () -> Date = Date.init,
                control: @escaping (ControlCommand) -> (ok: Bool, text: String)) {
        self.services = services
        self.clock = clock
        self.controlHandler = control
    }

    /// The current wall-clock time.
    public var date: Date { clock() }

    /// Executes a control command (its frames go on the bus) and returns the reply.
    public func control(_ command: ControlCommand) -> (ok: Bool, text: String) { controlHandler(command) }

    /// OP-01 remote start after a delivery: OwnerPairingModeRequest 0x0E to `serial`
    /// (`ctl pairing-mode SERIAL`); `sent` or `not-sent` with the control reply's text.
    public func requestPairingMode(serial: String) -> PairingModeRequestView {
        let reply = control(.pairingMode(serial: serial))
        return PairingModeRequestView(state: reply.ok ? .sent : .notSent, detail: reply.text.isEmpty ? nil : reply.text)
    }
}

/// The mailbox of the owner services' jobs.
public typealias OwnerMailbox = LoopMailbox<LoopContext>

/// What the routes of the HTTP server (the JSON API, the portal) work with: the bearer
/// tokens and the way to the event loop. Sendable: handlers run on NIO threads.
public struct OwnerHTTPContext: Sendable {
    /// Signs and verifies the identity provider's tokens (bearer tokens, the portal's cookie).
    public let tokens: TokenAuthority
    /// Runs jobs on the event loop.
    public let mailbox: OwnerMailbox

    /// A context.
    public init(tokens: TokenAuthority, mailbox: OwnerMailbox) {
        self.tokens = tokens
        self.mailbox = mailbox
    }

    /// Runs `job` on the event-loop thread (one repository transaction at a time, in the
    /// order submitted) and returns its result.
    public func run<T: Sendable>(_ job: @escaping @Sendable (LoopContext) throws(OwnerServiceError) -> T) async throws(OwnerServiceError) -> T {
        try await mailbox.submit(job)
    }

    /// The caller of a request's `Authorization: Bearer` header, recorded in the request's
    /// log note. Throws the 401 reasons (`missingToken`, `invalidToken`, `expiredToken`,
    /// `wrongAudience`).
    public func authenticate(authorization: String?) async throws(OwnerServiceError) -> Caller {
        let caller = try await tokens.verify(authorization: authorization)
        RequestNote.note(caller: caller)
        return caller
    }
}
