import CSocketCAN
import SpaakCore

/// Conversions between SpaakCore's `CANFrame` and the kernel's `struct can_frame` /
/// `struct canfd_frame`. Flags are stripped from the identifier; RTR and error frames
/// have no `CANFrame` form and decode to `nil`.
extension CANFrame {
    /// Decodes a frame read from a raw CAN socket: `size` is the read size, 16 (classic)
    /// or 72 (CAN FD). The size decides: the kernel delivers FD frames as 72 bytes (and sets
    /// FDF in their flags), classic ones as 16, even on an FD-enabled socket. Returns `nil`
    /// for RTR and error frames and for sizes or lengths the kernel never produces.
    public init?(kernel frame: canfd_frame, size: Int) {
        let rawID = frame.can_id
        if rawID & (SPAAK_CAN_RTR_FLAG | SPAAK_CAN_ERR_FLAG) != 0 { return nil }
        let isFD: Bool
        switch size {
        case Int(SPAAK_CAN_MTU): isFD = false
        case Int(SPAAK_CANFD_MTU): isFD = true
        default: return nil
        }
        let length = Int(frame.len)
        guard length <= (isFD ? Int(SPAAK_CANFD_MAX_DLEN) : Int(SPAAK_CAN_MAX_DLEN)) else { return nil }
        var copy = frame
        let isExtended = rawID & SPAAK_CAN_EFF_FLAG != 0
        let id = rawID & (isExtended ? SPAAK_CAN_EFF_MASK : SPAAK_CAN_SFF_MASK)
        // The payload is copied straight into the frame's inline storage (no array per frame).
        self.init(id: id, count: length, isExtended: isExtended, isFD: isFD,
                  bitRateSwitch: isFD && frame.flags & SPAAK_CANFD_BRS != 0) { target in
            withUnsafeBytes(of: &copy.data) { source in
                UnsafeMutableRawBufferPointer(target).copyMemory(from: UnsafeRawBufferPointer(rebasing: source.prefix(length)))
            }
        }
    }

    /// Decodes a classic `struct can_frame`; `nil` for RTR and error frames or a length above 8.
    public init?(kernel frame: can_frame) {
        var fd = canfd_frame()
        var copy = frame
        withUnsafeBytes(of: &copy) { source in
            withUnsafeMutableBytes(of: &fd) { target in
                target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source.prefix(Int(SPAAK_CAN_MTU))))
            }
        }
        self.init(kernel: fd, size: Int(SPAAK_CAN_MTU))
    }

    /// The kernel form of this frame and the number of bytes to write (16 or 72);
    /// `nil` when the frame is not valid (see `CANFrame.isValid`).
    public var kernelFrame: (frame: canfd_frame, size: Int)? {
        guard isValid else { return nil }
        var out = canfd_frame()
        out.can_id = isExtended ? (id & SPAAK_CAN_EFF_MASK) | SPAAK_CAN_EFF_FLAG : id & SPAAK_CAN_SFF_MASK
        let count = dataCount
        out.len = UInt8(count)
        if isFD { out.flags = SPAAK_CANFD_FDF | (bitRateSwitch ? SPAAK_CANFD_BRS : 0) }
        withUnsafeMutableBytes(of: &out.data) { target in
            withUnsafeData { source in
                target.copyMemory(from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(source).prefix(target.count)))
            }
        }
        return (out, isFD ? Int(SPAAK_CANFD_MTU) : Int(SPAAK_CAN_MTU))
    }

    /// The classic `struct can_frame` of this frame; `nil` for FD or invalid frames.
    public var classicKernelFrame: can_frame? {
        guard !isFD, let (fd, _) = kernelFrame else { return nil }
        var out = can_frame()
        var source = fd
        withUnsafeBytes(of: &source) { bytes in
            withUnsafeMutableBytes(of: &out) { target in
                target.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes.prefix(Int(SPAAK_CAN_MTU))))
            }
        }
        return out
    }
}
