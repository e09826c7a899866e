import SpaakCore

/// The TBM's side of the GSDP link as a pure machine: which VOS URL to try and when, the
/// hello, the welcome, and what a close means.
///
/// disconnected (next attempt due) → connecting → connected (the WebSocket is up, hello sent;
/// `TBM_Status` bit 0) → subscribed (welcome received: bits 0 and 1, messages relayed) →
/// (closed) → disconnected, the next attempt at `now + backoff`, on the next URL of the list.
/// `suspend` closes the link and makes no attempt until `resume` (the TBM's manual override).
///
/// The shell executes the actions (a `GSDPClient`) and feeds back what happened; after a
/// `.close` action it reports nothing more about that connection.
public struct GSDPLinkMachine: Sendable {
    /// The link's state.
    public enum State: Equatable, Sendable {
        /// No connection; the next attempt is due at the instant.
        case disconnected(nextAttempt: Instant)
        /// A connection to the URL is being opened (since the instant).
        case connecting(url: String, since: Instant)
        /// The WebSocket is up and the hello sent; no welcome yet.
        case connected(url: String)
        /// The VOS instance welcomed this TBM.
        case subscribed(url: String, instance: String)
        /// Closed on purpose; no attempt until `resume`.
        case suspended
    }

    /// What the shell has to do.
    public enum Action: Equatable, Sendable {
        /// Open a WebSocket to the URL.
        case connect(String)
        /// Send a text message.
        case sendText(String)
        /// Close the connection (the reason for the log and the close frame).
        case close(String)
    }

    /// What happened, for logs and traces.
    public enum Event: Equatable, Sendable {
        /// An attempt to the URL started.
        case connecting(url: String)
        /// The WebSocket to the URL is up, the hello sent.
        case linkUp(url: String)
        /// The VOS instance welcomed this TBM.
        case subscribed(url: String, instance: String)
        /// The connection (to `instance`, or to `url` when none welcomed it) ended; the next attempt `after`.
        case disconnected(url: String, instance: String?, reason: String, nextAttemptAfter: Duration)
        /// The link was closed on purpose (manual override).
        case suspended
        /// Attempts resume now.
        case resumed
        /// A text message that is no control message for the TBM, ignored.
        case ignoredText(String)
    }

    /// One input's results.
    public struct Step: Equatable, Sendable {
        /// To execute, in order.
        public var actions: [Action] = []
        /// To log, in order.
        public var events: [Event] = []

        /// An empty step.
        public init() {}
    }

    /// How long an attempt may take to open the WebSocket before it counts as failed.
    public static let connectTimeout: Duration = .seconds(10)

    /// The VOS URLs, tried in turn.
    public let urls: [String]
    /// The URL of the next (or current) attempt.
    public private(set) var urlIndex: Int
    /// The link's state.
    public private(set) var state: State
    /// The reconnection delays.
    public private(set) var backoff: GSDPBackoff
    /// The first message on every connection.
    public let hello: GSDPHello

    /// A disconnected link whose first attempt (to `urls[firstIndex % urls.count]`) is due at `now`.
    /// `urls` must not be empty.
    public init(urls: [String], firstIndex: Int, hello: GSDPHello, backoff: GSDPBackoff, now: Instant) {
        precondition(!urls.isEmpty, "GSDPLinkMachine needs at least one URL")
        self.urls = urls
        urlIndex = ((firstIndex % urls.count) + urls.count) % urls.count
        self.hello = hello
        self.backoff = backoff
        state = .disconnected(nextAttempt: now)
    }

    /// `true` while the WebSocket is up (`TBM_Status` bit 0).
    public var isConnected: Bool {
        switch state {
        case .connected, .subscribed: return true
        default: return false
        }
    }

    /// `true` once welcomed (`TBM_Status` bit 1; messages are relayed).
    public var isSubscribed: Bool {
        if case .subscribed = state { return true }
        return false
    }

    /// The URL of the current connection or attempt.
    public var currentURL: String? {
        switch state {
        case .connecting(let url, _), .connected(let url), .subscribed(let url, _): return url
        case .disconnected, .suspended: return nil
        }
    }

    /// The instance that welcomed the current connection.
    public var instance: String? {
        if case .subscribed(_, let instance) = state { return instance }
        return nil
    }

    /// When `handleTimeout` has work.
    public var nextDeadline: Instant? {
        switch state {
        case .disconnected(let at): return at
        case .connecting(_, let since): return since + Self.connectTimeout
        case .connected, .subscribed, .suspended: return nil
        }
    }

    /// Starts a due attempt, or gives up an attempt that took too long.
    public mutating func handleTimeout(now: Instant) -> Step {
        var step = Step()
        switch state {
        case .disconnected(let at) where at <= now:
            let url = urls[urlIndex]
            state = .connecting(url: url, since: now)
            step.events.append(.connecting(url: url))
            step.actions.append(.connect(url))
        case .connecting(_, let since) where since + Self.connectTimeout <= now:
            let reason = "no connection after \(Int(Self.connectTimeout.milliseconds.rounded())) ms"
            step.actions.append(.close(reason))
            lost(reason: reason, now: now, into: &step)
        default:
            break
        }
        return step
    }

    /// The client opened the WebSocket: send the hello.
    public mutating func connected(now: Instant) -> Step {
        var step = Step()
        guard case .connecting(let url, _) = state else { return step }
        state = .connected(url: url)
        step.events.append(.linkUp(url: url))
        step.actions.append(.sendText(GSDPControlMessage.hello(hello).text))
        return step
    }

    /// A text message arrived: a welcome subscribes; anything else is ignored (logged).
    public mutating func receivedText(_ text: String, now: Instant) -> Step {
        var step = Step()
        let message: GSDPControlMessage
        do {
            message = try GSDPControlMessage.decode(text)
        } catch {
            step.events.append(.ignoredText("\(error)"))
            return step
        }
        switch (message, state) {
        case (.welcome(let welcome), .connected(let url)):
            state = .subscribed(url: url, instance: welcome.instance)
            backoff.reset()
            step.events.append(.subscribed(url: url, instance: welcome.instance))
        case (.welcome, .subscribed):
            step.events.append(.ignoredText("a second welcome"))
        default:
            step.events.append(.ignoredText("unexpected control message \(message.text.prefix(120))"))
        }
        return step
    }

    /// The connection (or the attempt) ended: the next attempt on the next URL after the back-off.
    public mutating func closed(reason: String, now: Instant) -> Step {
        var step = Step()
        switch state {
        case .connecting, .connected, .subscribed: lost(reason: reason, now: now, into: &step)
        case .disconnected, .suspended: break
        }
        return step
    }

    /// Closes the link (if any) and makes no attempt until `resume`.
    public mutating func suspend(reason: String) -> Step {
        var step = Step()
        if case .suspended = state { return step }
        if currentURL != nil { step.actions.append(.close(reason)) }
        state = .suspended
        step.events.append(.suspended)
        return step
    }

    /// Ends a suspension: the next attempt is due at once.
    public mutating func resume(now: Instant) -> Step {
        var step = Step()
        guard case .suspended = state else { return step }
        state = .disconnected(nextAttempt: now)
        step.events.append(.resumed)
        return step.merged(handleTimeout(now: now))
    }

    private mutating func lost(reason: String, now: Instant, into step: inout Step) {
        let url = currentURL ?? urls[urlIndex]
        let instance = self.instance
        let delay = backoff.next()
        urlIndex = (urlIndex + 1) % urls.count
        state = .disconnected(nextAttempt: now + delay)
        step.events.append(.disconnected(url: url, instance: instance, reason: reason, nextAttemptAfter: delay))
    }
}

extension GSDPLinkMachine.Step {
    /// This step followed by `other`.
    public func merged(_ other: GSDPLinkMachine.Step) -> GSDPLinkMachine.Step {
        var step = self
        step.actions += other.actions
        step.events += other.events
        return step
    }
}

extension GSDPLinkMachine.Event: CustomStringConvertible {
    /// The log line of the event.
    public var description: String {
        switch self {
        case .connecting(let url): return "connecting to \(url)"
        case .linkUp(let url): return "WebSocket up at \(url), hello sent"
        case .subscribed(let url, let instance): return "connected to \(instance) at \(url)"
        case .disconnected(let url, let instance, let reason, let delay):
            return "disconnected from \(instance ?? url): \(reason); next attempt in \(Int(delay.milliseconds.rounded())) ms"
        case .suspended: return "link closed (manual override)"
        case .resumed: return "link resumed"
        case .ignoredText(let why): return "ignored a text message: \(why)"
        }
    }
}
