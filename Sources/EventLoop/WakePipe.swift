import Glibc

/// How another thread wakes the single-threaded event loop: a non-blocking, close-on-exec
/// pipe whose read end the loop watches.
///
/// Any thread calls `notify` after it queued work for the loop (a full pipe is readable
/// already, so a notify never blocks and is never lost); the loop, when `descriptor` is
/// readable, calls `drain` and then takes what was queued. Drain before taking: a notify that
/// comes after the take then leaves the descriptor readable for the next turn. The owners
/// (`PrefetchPool`, the store job worker, the GSDP event queue, the HTTP mailbox, the phone's
/// scrypt worker) keep their own "already signalled" flag where they want one write per batch.
public final class WakePipe: Sendable {
    /// The read end: the event loop watches it (`EventLoop.watch`).
    public let descriptor: Int32
    private let writeEnd: Int32

    /// A new pipe.
    /// - Throws: `WakePipeError` with the `errno` of `pipe`.
    public init() throws(WakePipeError) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw WakePipeError(errno: errno) }
        for fd in fds {    // (Glibc's Swift module has no pipe2)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        descriptor = fds[0]
        writeEnd = fds[1]
    }

    deinit {
        Glibc.close(descriptor)
        Glibc.close(writeEnd)
    }

    /// Makes `descriptor` readable (any thread; never blocks).
    public func notify() {
        var byte: UInt8 = 1
        while write(writeEnd, &byte, 1) < 0 && errno == EINTR {}
    }

    /// Empties the pipe (the loop thread, when `descriptor` is readable).
    public func drain() {
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &buffer, { read(descriptor, $0.baseAddress, $0.count) }) > 0 {}
    }
}

/// The wake pipe could not be made (out of descriptors, typically).
public struct WakePipeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The `errno` of `pipe`.
    public var errno: Int32

    /// Creates the error for `errno`.
    public init(errno: Int32) { self.errno = errno }

    /// Text for the operator.
    public var description: String { "cannot make a wake pipe for the event loop: \(String(cString: strerror(errno)))" }
}
