import CSocketCAN
import Glibc
import SpaakCore

/// Why a batch send stopped before its last frame.
public enum CANSendStop: Equatable, Sendable {
    /// EAGAIN: the socket's send buffer is full. POLLOUT tells when it has room again.
    case socketBufferFull
    /// ENOBUFS: the interface's transmit queue (qdisc, `txqueuelen`) is full and dropped the
    /// frame. POLLOUT does not tell when it drains (the socket's buffer has room): retry
    /// after a pause.
    case deviceQueueFull
    /// The frame at index `sent` can never be sent (identifier, length, CAN FD on a classic
    /// socket, or the interface said EINVAL): drop it, count it, go on with the next one.
    case unsendable(reason: String)
}

/// What a batch send did: the first `sent` frames are in the kernel, in order; `stop` says
/// why the rest were not (`nil`: all were sent).
public struct CANSendOutcome: Equatable, Sendable {
    /// Frames taken by the kernel, from the start of the batch.
    public var sent: Int
    /// Why sending stopped at index `sent`, or `nil` when every frame was taken.
    public var stop: CANSendStop?

    /// Creates an outcome.
    public init(sent: Int, stop: CANSendStop?) {
        self.sent = sent
        self.stop = stop
    }
}

extension CANSocket {
    /// Sends `frames` in order with as few system calls as the kernel allows (`sendmmsg`,
    /// up to 64 frames per call) and no allocation. Stops at the first frame the kernel does
    /// not take now or that can never be sent, and says why in the outcome. Throws
    /// `CANSocketError.interfaceDown` (ENETDOWN) and `.system` for other failures: the
    /// interface is lost then and nothing more of the batch is sent.
    public func send(batch frames: some Collection<CANFrame>) throws -> CANSendOutcome {
        var sent = 0
        var pending = frames[...]
        let limit = Int(SPAAK_CAN_WRITE_BATCH_MAX)
        return try withUnsafeTemporaryAllocation(of: canfd_frame.self, capacity: limit) { raws in
            try withUnsafeTemporaryAllocation(of: Int32.self, capacity: limit) { sizes in
                while !pending.isEmpty {
                    // Convert the next run of sendable frames.
                    var count = 0
                    var unsendable: String?
                    var index = pending.startIndex
                    while count < limit, index != pending.endIndex {
                        let frame = pending[index]
                        guard let (kernel, size) = frame.kernelFrame else {
                            unsendable = "invalid identifier or length"
                            break
                        }
                        if frame.isFD && !fdEnabled {
                            unsendable = "CAN FD is not enabled on this socket"
                            break
                        }
                        raws[count] = kernel
                        sizes[count] = Int32(size)
                        count += 1
                        index = pending.index(after: index)
                    }
                    if count > 0 {
                        let taken = try writeBatch(raws.baseAddress!, sizes.baseAddress!, count)
                        sent += taken.count
                        pending = pending.dropFirst(taken.count)
                        if let stop = taken.stop { return CANSendOutcome(sent: sent, stop: stop) }
                        if taken.count < count { continue }
                    }
                    if let unsendable { return CANSendOutcome(sent: sent, stop: .unsendable(reason: unsendable)) }
                }
                return CANSendOutcome(sent: sent, stop: nil)
            }
        }
    }

    /// One `sendmmsg`: how many frames the kernel took and, when it took none, why.
    private func writeBatch(_ raws: UnsafePointer<canfd_frame>, _ sizes: UnsafePointer<Int32>,
                            _ count: Int) throws -> (count: Int, stop: CANSendStop?) {
        while true {
            let taken = spaak_can_write_batch(fileDescriptor, raws, sizes, UInt32(count))
            if taken >= 0 { return (Int(taken), nil) }
            let code = errno
            switch code {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return (0, .socketBufferFull)
            case ENOBUFS: return (0, .deviceQueueFull)
            case EINVAL: return (0, .unsendable(reason: "rejected by the interface (EINVAL)"))
            case ENETDOWN: throw CANSocketError.interfaceDown(interface)
            default: throw CANSocketError.system(operation: "sendmmsg to \(interface)", errno: code)
            }
        }
    }
}
