import Glibc

/// Tells whoever started the process that it is ready, on a descriptor it inherited
/// (`spaak-ecu run --ready-fd N`, `spaak-cloud serve --ready-fd N`): `READY=1\n`, the syntax
/// of systemd's notify protocol, then the descriptor is closed. A process that fails before
/// it is ready closes the descriptor by exiting, so the reader sees end of file without
/// `READY=1`: a machine-readable signal instead of a log line to scrape.
///
/// Typical use: a supervisor creates a pipe, passes its write end as descriptor N, and
/// reads the other end until `READY=1` or end of file.
public struct ReadinessNotifier: Sendable {
    /// What `notifyReady` writes.
    public static let message = "READY=1\n"

    /// Why a descriptor cannot carry the notification.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// 0, 1 and 2 are the standard streams; a negative number is no descriptor.
        case reserved(Int32)
        /// No open descriptor has this number.
        case notOpen(Int32)
        /// The descriptor is open for reading only.
        case notWritable(Int32)
        /// The write failed (errno), e.g. the reader closed its end.
        case writeFailed(Int32, errno: Int32)

        /// Text for the command line and logs.
        public var description: String {
            switch self {
            case .reserved(let fd):
                return "descriptor \(fd) cannot carry the readiness notification: give a descriptor ≥ 3 "
                    + "(0, 1, 2 are the standard streams)"
            case .notOpen(let fd):
                return "descriptor \(fd) is not open: the process that starts this one must pass it "
                    + "(e.g. the write end of a pipe)"
            case .notWritable(let fd):
                return "descriptor \(fd) is not open for writing"
            case .writeFailed(let fd, let code):
                return "READY=1 not written to descriptor \(fd): \(String(cString: strerror(code))) (errno \(code))"
            }
        }
    }

    /// The descriptor that receives `READY=1`.
    public let descriptor: Int32

    /// A notifier on `descriptor`; throws `Failure` when it is not an open descriptor ≥ 3
    /// that can be written.
    public init(descriptor: Int32) throws {
        guard descriptor > 2 else { throw Failure.reserved(descriptor) }
        let flags = fcntl(descriptor, F_GETFL)
        guard flags >= 0 else { throw Failure.notOpen(descriptor) }
        let mode = flags & O_ACCMODE
        guard mode == O_WRONLY || mode == O_RDWR else { throw Failure.notWritable(descriptor) }
        self.descriptor = descriptor
    }

    /// Writes `READY=1\n` and closes the descriptor (also when the write fails). A reader
    /// that has gone away gives `Failure.writeFailed` (EPIPE), never a SIGPIPE.
    public func notifyReady() throws {
        defer { close(descriptor) }
        let bytes = Array(Self.message.utf8)
        let failure = withSIGPIPEBlocked { () -> Int32? in
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, bytes.count - offset) }
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return nil
        }
        if let failure { throw Failure.writeFailed(descriptor, errno: failure) }
    }

    /// Runs `body` with SIGPIPE blocked on this thread; a SIGPIPE it raised (a write to a
    /// pipe without reader) is consumed before the mask is restored.
    private func withSIGPIPEBlocked<T>(_ body: () -> T) -> T {
        var pipeSignal = sigset_t()
        var previous = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        var wasPending = sigset_t()
        sigpending(&wasPending)
        let pendingBefore = sigismember(&wasPending, SIGPIPE) == 1
        pthread_sigmask(SIG_BLOCK, &pipeSignal, &previous)
        let result = body()
        var pending = sigset_t()
        sigpending(&pending)
        if !pendingBefore && sigismember(&pending, SIGPIPE) == 1 {
            var none = timespec(tv_sec: 0, tv_nsec: 0)
            _ = sigtimedwait(&pipeSignal, nil, &none)
        }
        pthread_sigmask(SIG_SETMASK, &previous, nil)
        return result
    }
}
