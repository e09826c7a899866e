import Glibc
import Testing

@testable import EventLoop

/// `--ready-fd N`: `READY=1\n` on a pipe, then end of file; bad descriptors refused.
@Suite("ReadinessNotifier", .serialized)
struct ReadinessNotifierTests {
    /// A pipe's (read end, write end).
    private func makePipe() throws -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        try #require(pipe(&fds) == 0)
        return (fds[0], fds[1])
    }

    /// What the (non-blocking) read end holds, and whether end of file followed (every
    /// write end closed) rather than "nothing more yet".
    private func readAll(_ fd: Int32) -> (bytes: [UInt8], endOfFile: Bool) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { return (out, n == 0) }
            out += buffer[0..<n]
        }
    }

    @Test("writes READY=1 and a newline, then closes the descriptor")
    func notifies() throws {
        let (reader, writer) = try makePipe()
        defer { close(reader) }
        let notifier = try ReadinessNotifier(descriptor: writer)
        try notifier.notifyReady()
        let (bytes, endOfFile) = readAll(reader)
        #expect(bytes == Array("READY=1\n".utf8))
        #expect(endOfFile, "the write end is closed after READY=1")
    }

    @Test("a reader that has gone away is an error, not a SIGPIPE")
    func readerGone() throws {
        let (reader, writer) = try makePipe()
        close(reader)
        let notifier = try ReadinessNotifier(descriptor: writer)
        #expect(throws: ReadinessNotifier.Failure.writeFailed(writer, errno: EPIPE)) { try notifier.notifyReady() }
    }

    @Test("refuses the standard streams, negative numbers and closed descriptors")
    func refusesBadNumbers() throws {
        for fd: Int32 in [-1, 0, 1, 2] {
            #expect(throws: ReadinessNotifier.Failure.reserved(fd)) { try ReadinessNotifier(descriptor: fd) }
        }
        // Above any descriptor limit: never open (a number just closed could be reused by a
        // test running in parallel).
        let closed: Int32 = 1_000_000
        #expect(throws: ReadinessNotifier.Failure.notOpen(closed)) { try ReadinessNotifier(descriptor: closed) }
    }

    @Test("refuses a descriptor open for reading only")
    func refusesReadOnly() throws {
        let (reader, writer) = try makePipe()
        defer { close(reader); close(writer) }
        #expect(throws: ReadinessNotifier.Failure.notWritable(reader)) { try ReadinessNotifier(descriptor: reader) }
        #expect(ReadinessNotifier.Failure.notWritable(reader).description.contains("not open for writing"))
    }
}
