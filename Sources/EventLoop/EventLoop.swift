import CSocketCAN
import Glibc
import SpaakCore

/// What woke the loop; the handler gets one event at a time.
public enum LoopEvent: Equatable, Sendable {
    /// The descriptor has data (or an error or hang-up to report): read it until EAGAIN.
    case readable(Int32)
    /// The descriptor, watched for writing, can take more: flush its transmit queue.
    case writable(Int32)
    /// The armed deadline has passed; `now` is the current instant. The timer is now
    /// disarmed: call `arm(_:)` with the next deadline. In one turn it comes after the
    /// descriptors' events: a descriptor readable at the same poll was handled first.
    case timer(Instant)
    /// SIGINT or SIGTERM (or another watched signal) arrived; the loop ends after this event.
    case signal(Int32)
}

/// Why `run` returned.
public enum LoopExit: Equatable, Sendable {
    /// `stop()` was called.
    case stopped
    /// A watched signal arrived (its number).
    case signal(Int32)
}

/// A failure of the loop itself.
public enum EventLoopError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed.
    case system(operation: String, errno: Int32)
    /// A watched descriptor is not open (POLLNVAL): unwatch it before closing it.
    case invalidDescriptor(Int32)

    /// Text for logs.
    public var description: String {
        switch self {
        case .system(let operation, let code):
            return "\(operation) failed: \(String(cString: strerror(code))) (errno \(code))"
        case .invalidDescriptor(let fd):
            return "descriptor \(fd) is watched but not open"
        }
    }
}

/// A single-threaded `poll()` loop: readable/writable descriptors, one timerfd armed to
/// the earliest deadline, and a signalfd that ends the loop on SIGINT/SIGTERM.
///
/// No threads, no async, no Dispatch. Create it before any other thread starts: it blocks
/// its signals on the creating thread (the mask is inherited by later threads) and
/// restores the mask on `close()`. Typical glue:
///
///     let loop = try EventLoop()
///     loop.watch(can.fileDescriptor)
///     loop.arm(ecu.nextDeadline)
///     let exit = try loop.run { event in
///         switch event {
///         case .readable: while let frame = try can.receive() { ecu.handle(frame, at: loop.clock.now) }
///         case .writable: try queue.flush { try can.send($0) }
///         case .timer(let now): ecu.handleTimeouts(at: now)
///         case .signal: ecu.shutdown()
///         }
///         loop.watchWritable(can.fileDescriptor, !queue.isEmpty)
///         loop.arm(ecu.nextDeadline)
///     }
public final class EventLoop {
    /// The clock whose instants `arm(_:)` takes.
    public let clock = SystemClock()
    /// The deadline the timer is armed for, `nil` when disarmed.
    public private(set) var deadline: Instant?
    /// The signals that end the loop.
    public let signals: [Int32]

    private struct Interest {
        var fd: Int32
        var readable: Bool
        var writable: Bool
    }

    private var timerFD: Int32
    private var signalFD: Int32 = -1
    private var oldMask = sigset_t()
    private var interests: [Interest] = []
    private var pollSet: [pollfd] = []
    private var pollSetIsStale = true
    private var stopRequested = false
    private var pendingError: EventLoopError?

    /// Creates the loop's timerfd and, unless `signals` is empty, blocks those signals and
    /// opens a signalfd for them.
    public init(signals: [Int32] = [SIGINT, SIGTERM]) throws {
        self.signals = signals
        timerFD = spaak_timerfd_create()
        if timerFD < 0 { throw EventLoopError.system(operation: "timerfd_create", errno: errno) }
        if !signals.isEmpty {
            signalFD = spaak_signalfd_open(signals, Int32(signals.count), &oldMask)
            if signalFD < 0 {
                let code = errno
                Glibc.close(timerFD)
                throw EventLoopError.system(operation: "signalfd", errno: code)
            }
        }
    }

    deinit { close() }

    /// Closes the timerfd and signalfd and restores the signal mask (call it on the thread
    /// that created the loop). Watched descriptors are not closed.
    public func close() {
        if timerFD >= 0 { Glibc.close(timerFD) }
        if signalFD >= 0 {
            Glibc.close(signalFD)
            spaak_signal_mask_restore(&oldMask)
        }
        timerFD = -1
        signalFD = -1
        deadline = nil
    }

    /// Watches `fd` for reading (a CAN socket, a pipe …).
    public func watch(_ fd: Int32) {
        update(fd) { $0.readable = true }
    }

    /// Watches or stops watching `fd` for writing; watch only while a transmit queue is
    /// not empty, or the loop spins.
    public func watchWritable(_ fd: Int32, _ wanted: Bool) {
        update(fd) { $0.writable = wanted }
    }

    /// Whether `fd` is watched for writing.
    public func isWatchingWritable(_ fd: Int32) -> Bool {
        interests.first { $0.fd == fd }?.writable ?? false
    }

    /// Stops watching `fd` entirely (do this before closing it).
    public func unwatch(_ fd: Int32) {
        interests.removeAll { $0.fd == fd }
        pollSetIsStale = true
    }

    /// Arms the timer for `deadline` (a CLOCK_MONOTONIC instant; one in the past fires at
    /// once), or disarms it for `nil`. Cheap when the deadline is unchanged.
    public func arm(_ deadline: Instant?) {
        guard deadline != self.deadline, timerFD >= 0 else { return }
        let rc = deadline.map { spaak_timerfd_arm(timerFD, $0.nanoseconds) } ?? spaak_timerfd_disarm(timerFD)
        if rc != 0 {
            pendingError = .system(operation: "timerfd_settime", errno: errno)
            return
        }
        self.deadline = deadline
    }

    /// Makes `run` return `.stopped` after the current event.
    public func stop() { stopRequested = true }

    /// Runs until `stop()` or a watched signal, handing every event to `handler`. An error
    /// thrown by the handler ends the loop and propagates.
    public func run(_ handler: (LoopEvent) throws -> Void) throws -> LoopExit {
        while true {
            if let exit = try runOnce(handler) { return exit }
        }
    }

    /// One turn: waits (at most `maxWait`, forever for `nil`) for events and dispatches
    /// them. Returns the exit reason when the loop should end, else `nil`.
    public func runOnce(maxWait: Duration? = nil, _ handler: (LoopEvent) throws -> Void) throws -> LoopExit? {
        if let error = pendingError {
            pendingError = nil
            throw error
        }
        if stopRequested {
            stopRequested = false
            return .stopped
        }
        if pollSetIsStale { rebuildPollSet() }
        let ready = pollSet.withUnsafeMutableBufferPointer {
            Glibc.poll($0.baseAddress, nfds_t($0.count), EventLoop.pollTimeout(maxWait))
        }
        if ready < 0 {
            if errno == EINTR { return nil }
            throw EventLoopError.system(operation: "poll", errno: errno)
        }
        if ready == 0 { return nil }
        let turn = pollSet
        for entry in turn where entry.revents != 0 {
            if let exit = try dispatch(entry, handler) { return exit }
        }
        return nil
    }

    private func dispatch(_ entry: pollfd, _ handler: (LoopEvent) throws -> Void) throws -> LoopExit? {
        let revents = Int32(entry.revents)
        if revents & POLLNVAL != 0 { throw EventLoopError.invalidDescriptor(entry.fd) }
        if entry.fd == signalFD {
            let signo = spaak_signalfd_read(signalFD)
            if signo < 0 { throw EventLoopError.system(operation: "read(signalfd)", errno: errno) }
            guard signo > 0 else { return nil }
            try handler(.signal(signo))
            stopRequested = false
            return .signal(signo)
        }
        if entry.fd == timerFD {
            guard spaak_timerfd_consume(timerFD) > 0 else { return nil }
            deadline = nil
            try handler(.timer(clock.now))
            return takeStop()
        }
        guard let interest = interests.first(where: { $0.fd == entry.fd }) else { return nil }
        if interest.readable && revents & (POLLIN | POLLERR | POLLHUP) != 0 {
            try handler(.readable(entry.fd))
            if let exit = takeStop() { return exit }
        }
        let writableNow = interests.first { $0.fd == entry.fd }?.writable ?? false
        if writableNow && revents & (POLLOUT | POLLERR) != 0 {
            try handler(.writable(entry.fd))
            if let exit = takeStop() { return exit }
        }
        return nil
    }

    private func takeStop() -> LoopExit? {
        guard stopRequested else { return nil }
        stopRequested = false
        return .stopped
    }

    private func update(_ fd: Int32, _ change: (inout Interest) -> Void) {
        if let index = interests.firstIndex(where: { $0.fd == fd }) {
            let before = (interests[index].readable, interests[index].writable)
            change(&interests[index])
            if before != (interests[index].readable, interests[index].writable) { pollSetIsStale = true }
        } else {
            var interest = Interest(fd: fd, readable: false, writable: false)
            change(&interest)
            interests.append(interest)
            pollSetIsStale = true
        }
    }

    /// The order of `pollSet` is the order of dispatch within a turn: the signal, the
    /// descriptors, the timer last (documented on `LoopEvent.timer`).
    private func rebuildPollSet() {
        var set: [pollfd] = []
        if signalFD >= 0 { set.append(pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)) }
        for interest in interests where interest.readable || interest.writable {
            let events = (interest.readable ? POLLIN : 0) | (interest.writable ? POLLOUT : 0)
            set.append(pollfd(fd: interest.fd, events: Int16(events), revents: 0))
        }
        if timerFD >= 0 { set.append(pollfd(fd: timerFD, events: Int16(POLLIN), revents: 0)) }
        pollSet = set
        pollSetIsStale = false
    }

    /// `maxWait` as poll's millisecond timeout, rounded up; -1 for "forever".
    static func pollTimeout(_ maxWait: Duration?) -> Int32 {
        guard let maxWait else { return -1 }
        let ns = Swift.max(0, maxWait.nanosecondsClamped)
        return Int32(clamping: ns / 1_000_000 + (ns % 1_000_000 > 0 ? 1 : 0))
    }
}
