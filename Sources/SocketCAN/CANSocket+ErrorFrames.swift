import CSocketCAN
import CanSM
import Glibc

/// The error frames a socket read and keeps until `takeErrorFrames()`: at most `capacity`;
/// when full, a frame that reports no state (a bus error of a flood) gives way first, so
/// that a bus-off or restart frame is never the one lost. Every dropped frame is counted.
public struct CANErrorFrameQueue: Sendable {
    /// Frames kept at most between two `take()` calls.
    public static let defaultCapacity = 256

    /// The most frames kept.
    public let capacity: Int
    /// Frames dropped because the queue was full (cumulative).
    public private(set) var dropped = 0
    private var frames: [CANErrorFrame] = []

    /// An empty queue of `capacity` (at least 1).
    public init(capacity: Int = CANErrorFrameQueue.defaultCapacity) {
        self.capacity = Swift.max(1, capacity)
    }

    /// Whether no frame is kept.
    public var isEmpty: Bool { frames.isEmpty }

    /// Keeps `frame`; when full, drops the incoming frame if it reports no state, else the
    /// oldest one that reports none, else the oldest.
    public mutating func append(_ frame: CANErrorFrame) {
        guard frames.count >= capacity else {
            frames.append(frame)
            return
        }
        dropped += 1
        guard frame.impliedState != nil else { return }
        let victim = frames.firstIndex { $0.impliedState == nil } ?? frames.startIndex
        frames.remove(at: victim)
        frames.append(frame)
    }

    /// The kept frames, oldest first; the queue is empty afterwards.
    public mutating func take() -> [CANErrorFrame] {
        let out = frames
        frames.removeAll(keepingCapacity: true)
        return out
    }
}

extension CANErrorFrame {
    /// Decodes a kernel frame read from a raw socket; `nil` unless it is an error frame.
    public init?(kernel frame: canfd_frame) {
        guard frame.can_id & SPAAK_CAN_ERR_FLAG != 0 else { return nil }
        var copy = frame
        let length = Swift.min(Int(frame.len), Int(SPAAK_CAN_MAX_DLEN))
        let data = withUnsafeBytes(of: &copy.data) { Array($0.prefix(length)) }
        self.init(id: frame.can_id, data: data)
    }
}

extension CANSocket {
    /// Asks the kernel for the controller's error frames (`CAN_RAW_ERR_FILTER` =
    /// `CAN_ERR_MASK`, every class) or, with `false`, for none (the default). Reads decode
    /// them and keep them for `takeErrorFrames()`; they still count in `ignoredFrames`.
    public func receiveErrorFrames(_ enabled: Bool) throws {
        var mask: UInt32 = enabled ? CANErrorFrame.classMask : 0
        if setsockopt(fileDescriptor, Int32(SPAAK_SOL_CAN_RAW), Int32(SPAAK_CAN_RAW_ERR_FILTER), &mask,
                      socklen_t(MemoryLayout<UInt32>.size)) != 0 {
            throw CANSocketError.system(operation: "setsockopt(CAN_RAW_ERR_FILTER)", errno: errno)
        }
    }

    /// The error frames read since the last call, oldest first (at most
    /// `CANErrorFrameQueue.defaultCapacity`; see `errorFramesDropped`).
    public func takeErrorFrames() -> [CANErrorFrame] {
        errorFrameQueue.isEmpty ? [] : errorFrameQueue.take()
    }

    /// Error frames read but not kept because `takeErrorFrames()` was not called in time.
    public var errorFramesDropped: Int { errorFrameQueue.dropped }

    /// Keeps `frame` when it is an error frame (a skipped frame of a receive call).
    func keepErrorFrame(_ frame: canfd_frame) {
        if let error = CANErrorFrame(kernel: frame) { errorFrameQueue.append(error) }
    }

    /// Keeps the error frames among the first `count` frames of a batch.
    func keepErrorFrames(_ frames: UnsafePointer<canfd_frame>, count: Int) {
        for index in 0..<count where frames[index].can_id & SPAAK_CAN_ERR_FLAG != 0 {
            keepErrorFrame(frames[index])
        }
    }
}
