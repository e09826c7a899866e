import CSocketCAN
import Glibc
import SpaakCore

/// A non-blocking raw CAN socket bound to one interface: the module's CanIf.
///
/// Reads and writes never block: `receive()` answers `nil` and `send(_:)` answers `false`
/// (`send(batch:)` says why) when the kernel has nothing to give or no room to take; the
/// runners write through `CANPort`'s `CANTransmitter`, which handles that. RTR frames are
/// skipped and counted; error frames, once `receiveErrorFrames(true)` asked for them, are
/// decoded and kept for `takeErrorFrames()`.
public final class CANSocket {
    /// How to treat CAN FD when opening.
    public enum FDMode: Sendable {
        /// Classic CAN only.
        case off
        /// CAN FD, or `CANSocketError.fdNotSupported` when the interface's MTU is 16.
        case required
        /// CAN FD when the interface's MTU allows it, classic CAN otherwise (see `fdEnabled`).
        case ifAvailable
    }

    /// The interface name, e.g. `vcan0`.
    public let interface: String
    /// The socket's descriptor, for `poll` (owned by this object; closed by `close()`/deinit).
    public private(set) var fileDescriptor: Int32
    /// Whether CAN FD frames can be sent and are received.
    public let fdEnabled: Bool
    /// The interface MTU when known (16 classic, 72 FD).
    public let mtu: Int?
    /// RTR, error and malformed frames that were read and skipped.
    public private(set) var ignoredFrames = 0

    /// Frames the kernel dropped because this socket's receive buffer was full
    /// (SO_RXQ_OVFL, cumulative since the open; 0 when the kernel does not report it).
    public private(set) var receiveBufferDrops: UInt32 = 0
    /// Whether the kernel stamps received frames (SO_TIMESTAMPNS) and reports drops.
    public private(set) var receiveInfo = false
    /// Error frames read and kept for `takeErrorFrames()` (CANSocket+ErrorFrames.swift).
    var errorFrameQueue = CANErrorFrameQueue()

    private var batchStamps: UnsafeMutablePointer<UInt64>?
    private var batchFrames: UnsafeMutablePointer<canfd_frame>?
    private var batchSizes: UnsafeMutablePointer<Int32>?
    private var batchCapacity = 0

    /// Opens a socket on `interface` (default `vcan0`); optionally sets receive filters
    /// for exact standard identifiers. Throws a `CANSocketError` that says how to fix it.
    public init(interface: String = "vcan0", fd mode: FDMode = .off, filter ids: [UInt32]? = nil) throws {
        var info = spaak_can_open_info()
        let fd = spaak_can_open(interface, mode == .off ? 0 : 1, &info)
        self.interface = interface
        self.mtu = info.mtu >= 0 ? Int(info.mtu) : nil
        guard fd >= 0 else {
            throw CANSocket.openError(interface, step: info.failed_step, errno: info.saved_errno)
        }
        if info.is_up == 0 {
            Glibc.close(fd)
            throw CANSocketError.interfaceDown(interface)
        }
        let classicOnly = info.mtu == SPAAK_CAN_MTU
        if mode == .required && classicOnly {
            Glibc.close(fd)
            throw CANSocketError.fdNotSupported(interface, mtu: Int(info.mtu))
        }
        self.fileDescriptor = fd
        self.fdEnabled = mode != .off && !classicOnly
        CANSocket.enlargeReceiveBuffer(fd)
        receiveInfo = spaak_can_enable_receive_info(fd) == 0
        if let ids { try setFilter(ids: ids) }
    }

    /// The receive buffer the socket asks for: a 4095-byte ISO-TP message sent back to back
    /// (BS 0, STmin 0) is 586 frames, more than the kernel's default buffer holds (~278).
    public static let receiveBufferBytes: Int32 = 2 << 20

    /// Raises the receive buffer past `rmem_max` where allowed (root: SO_RCVBUFFORCE), else
    /// as far as SO_RCVBUF goes; never fails the open.
    private static func enlargeReceiveBuffer(_ fd: Int32) {
        var size = receiveBufferBytes
        let length = socklen_t(MemoryLayout<Int32>.size)
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, length) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, length)
        }
    }

    deinit { close() }

    /// Closes the socket; further calls throw EBADF errors.
    public func close() {
        if fileDescriptor >= 0 { Glibc.close(fileDescriptor) }
        fileDescriptor = -1
        batchFrames?.deallocate()
        batchSizes?.deallocate()
        batchStamps?.deallocate()
        batchFrames = nil
        batchSizes = nil
        batchStamps = nil
        batchCapacity = 0
    }

    /// Receives only data frames with exactly these identifiers (at most 512 in all);
    /// empty lists receive nothing.
    public func setFilter(ids: [UInt32], extendedIDs: [UInt32] = []) throws {
        let all = ids + extendedIDs
        let marks = [UInt8](repeating: 0, count: ids.count) + [UInt8](repeating: 1, count: extendedIDs.count)
        guard all.count <= Int(SPAAK_CAN_RAW_FILTER_MAX) else {
            throw CANSocketError.system(operation: "setsockopt(CAN_RAW_FILTER) with \(all.count) filters", errno: EINVAL)
        }
        if spaak_can_set_filters(fileDescriptor, all, marks, Int32(all.count)) != 0 {
            throw CANSocketError.system(operation: "setsockopt(CAN_RAW_FILTER)", errno: errno)
        }
    }

    /// Removes the filters: every data frame on the interface is received.
    public func acceptAll() throws {
        if spaak_can_accept_all(fileDescriptor) != 0 {
            throw CANSocketError.system(operation: "setsockopt(CAN_RAW_FILTER)", errno: errno)
        }
    }

    /// The next data frame, or `nil` when none is queued (EAGAIN).
    public func receive() throws -> CANFrame? {
        var raw = canfd_frame()
        while true {
            let size = spaak_can_read(fileDescriptor, &raw)
            if size < 0 {
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK { return nil }
                if code == EINTR { continue }
                throw readError(code)
            }
            if let frame = CANFrame(kernel: raw, size: Int(size)) { return frame }
            ignoredFrames += 1
            keepErrorFrame(raw)
        }
    }

    /// Up to `max` queued data frames read with one `recvmmsg` call; empty when none is queued.
    public func receiveBatch(max: Int = 64) throws -> [CANFrame] {
        let wanted = Swift.max(1, Swift.min(max, 4096))
        reserveBatch(wanted)
        guard let frames = batchFrames, let sizes = batchSizes else { return [] }
        let count = spaak_can_read_batch(fileDescriptor, frames, sizes, UInt32(wanted))
        if count < 0 {
            let code = errno
            if code == EAGAIN || code == EWOULDBLOCK || code == EINTR { return [] }
            throw readError(code)
        }
        var out: [CANFrame] = []
        out.reserveCapacity(Int(count))
        for index in 0..<Int(count) {
            if let frame = CANFrame(kernel: frames[index], size: Int(sizes[index])) {
                out.append(frame)
            } else {
                ignoredFrames += 1
                keepErrorFrame(frames[index])
            }
        }
        return out
    }

    /// Up to `max` queued data frames, each with the kernel's receive time on the
    /// CLOCK_MONOTONIC scale of `SystemClock` (`nil` when the kernel gave none); updates
    /// `receiveBufferDrops`. Empty when none is queued.
    public func receiveStampedBatch(max: Int = 64) throws -> [ReceivedCANFrame] {
        let wanted = Swift.max(1, Swift.min(max, 4096))
        reserveBatch(wanted)
        guard let frames = batchFrames, let sizes = batchSizes, let stamps = batchStamps else { return [] }
        var drops = receiveBufferDrops
        let count = spaak_can_read_batch_stamped(fileDescriptor, frames, sizes, stamps, &drops, UInt32(wanted))
        if count < 0 {
            let code = errno
            if code == EAGAIN || code == EWOULDBLOCK || code == EINTR { return [] }
            throw readError(code)
        }
        receiveBufferDrops = drops
        let skippedBefore = ignoredFrames
        defer { if ignoredFrames != skippedBefore { keepErrorFrames(frames, count: Int(count)) } }
        return CANSocket.decodeStampedBatch(frames: frames, sizes: sizes, stamps: stamps, count: Int(count),
                                            ignored: &ignoredFrames)
    }

    /// The data frames of a `recvmmsg` batch as `receiveStampedBatch` returns them: each
    /// kernel frame decoded with its stamp (0: none); RTR, error and malformed frames are
    /// skipped and counted in `ignored`. Pure (a profiler's driver feeds it kernel frames).
    public static func decodeStampedBatch(frames: UnsafePointer<canfd_frame>, sizes: UnsafePointer<Int32>,
                                          stamps: UnsafePointer<UInt64>, count: Int,
                                          ignored: inout Int) -> [ReceivedCANFrame] {
        var out: [ReceivedCANFrame] = []
        out.reserveCapacity(count)
        for index in 0..<count {
            if let frame = CANFrame(kernel: frames[index], size: Int(sizes[index])) {
                let stamp = stamps[index]
                out.append(ReceivedCANFrame(frame: frame, receivedAt: stamp == 0 ? nil : Instant(nanoseconds: stamp)))
            } else {
                ignored += 1
            }
        }
        return out
    }

    private func reserveBatch(_ wanted: Int) {
        guard wanted > batchCapacity else { return }
        batchFrames?.deallocate()
        batchSizes?.deallocate()
        batchStamps?.deallocate()
        batchFrames = .allocate(capacity: wanted)
        batchSizes = .allocate(capacity: wanted)
        batchStamps = .allocate(capacity: wanted)
        batchCapacity = wanted
    }

    /// Sends one frame. Returns `false` when the kernel has no room now (EAGAIN/ENOBUFS):
    /// queue it and retry when the descriptor is writable. Throws for frames that can never
    /// be sent and for a down interface.
    public func send(_ frame: CANFrame) throws -> Bool {
        guard let (kernel, size) = frame.kernelFrame else {
            throw CANSocketError.unsendableFrame(frame, reason: "invalid identifier or length")
        }
        var raw = kernel
        if frame.isFD && !fdEnabled {
            throw CANSocketError.unsendableFrame(frame, reason: "CAN FD is not enabled on this socket")
        }
        while true {
            if spaak_can_write(fileDescriptor, &raw, Int32(size)) >= 0 { return true }
            let code = errno
            switch code {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK, ENOBUFS: return false
            case ENETDOWN: throw CANSocketError.interfaceDown(interface)
            case EINVAL: throw CANSocketError.unsendableFrame(frame, reason: "rejected by the interface (EINVAL)")
            default: throw CANSocketError.system(operation: "write to \(interface)", errno: code)
            }
        }
    }

    private func readError(_ code: Int32) -> CANSocketError {
        code == ENETDOWN ? .interfaceDown(interface) : .system(operation: "read from \(interface)", errno: code)
    }

    /// Maps a failed `spaak_can_open` step to the operator-facing error.
    static func openError(_ name: String, step: Int32, errno code: Int32) -> CANSocketError {
        switch UInt32(bitPattern: step) {
        case SPAAK_CAN_OPEN_SOCKET.rawValue where code == EAFNOSUPPORT || code == EPROTONOSUPPORT:
            return .noSocketCAN(errno: code)
        case SPAAK_CAN_OPEN_SOCKET.rawValue:
            return .system(operation: "socket(PF_CAN, SOCK_RAW, CAN_RAW)", errno: code)
        case SPAAK_CAN_OPEN_NAME.rawValue, SPAAK_CAN_OPEN_IFINDEX.rawValue:
            return .noSuchInterface(name)
        case SPAAK_CAN_OPEN_BIND.rawValue where code == ENODEV:
            return .notCANInterface(name)
        case SPAAK_CAN_OPEN_BIND.rawValue where code == ENETDOWN:
            return .interfaceDown(name)
        case SPAAK_CAN_OPEN_BIND.rawValue:
            return .system(operation: "bind to \(name)", errno: code)
        case SPAAK_CAN_OPEN_FD_FRAMES.rawValue:
            return .system(operation: "setsockopt(CAN_RAW_FD_FRAMES)", errno: code)
        default:
            return .system(operation: "fcntl(O_NONBLOCK)", errno: code)
        }
    }
}
