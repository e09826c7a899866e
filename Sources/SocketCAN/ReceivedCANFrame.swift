import SpaakCore

/// A data frame as read from the socket, with the instant the kernel received it.
public struct ReceivedCANFrame: Sendable, Equatable {
    /// The frame.
    public var frame: CANFrame
    /// When the kernel received it (SO_TIMESTAMPNS carried over to CLOCK_MONOTONIC);
    /// `nil` when the kernel gave no timestamp.
    public var receivedAt: Instant?

    /// Creates a received frame.
    public init(frame: CANFrame, receivedAt: Instant?) {
        self.frame = frame
        self.receivedAt = receivedAt
    }
}
