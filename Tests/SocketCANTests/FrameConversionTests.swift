import CSocketCAN
import SpaakCore
import Testing

@testable import SocketCAN

/// The raw bytes of a kernel structure, to check the wire layout the socket sees.
private func bytes<T>(of value: T) -> [UInt8] {
    var copy = value
    return withUnsafeBytes(of: &copy) { Array($0) }
}

@Suite("CANFrame <-> struct can_frame / canfd_frame")
struct FrameConversionTests {
    @Test("structure sizes are the kernel's MTUs")
    func sizes() {
        #expect(MemoryLayout<can_frame>.size == 16)
        #expect(MemoryLayout<canfd_frame>.size == 72)
        #expect(SPAAK_CAN_MTU == 16 && SPAAK_CANFD_MTU == 72 && SPAAK_CANFD_FDF == 0x04)
    }

    @Test("classic frame: layout and round trip")
    func classicRoundTrip() throws {
        let frame = CANFrame(id: 0x3A8, data: [0x9B, 0x00, 0x03, 0, 0, 0, 0, 0x11])
        let raw = try #require(frame.classicKernelFrame)
        #expect(bytes(of: raw) == [0xA8, 0x03, 0, 0, 8, 0, 0, 0, 0x9B, 0x00, 0x03, 0, 0, 0, 0, 0x11])
        #expect(CANFrame(kernel: raw) == frame)
        let (fd, size) = try #require(frame.kernelFrame)
        #expect(size == 16)
        #expect(fd.flags == 0)
        #expect(CANFrame(kernel: fd, size: size) == frame)
    }

    @Test("short classic frame keeps its length")
    func shortClassic() throws {
        let frame = CANFrame(id: 0x7DF, data: [0x02, 0x10, 0x03])
        let raw = try #require(frame.classicKernelFrame)
        #expect(raw.len == 3)
        #expect(CANFrame(kernel: raw)?.data == [0x02, 0x10, 0x03])
    }

    @Test("extended FD frame with bit rate switch: flags and round trip")
    func fdRoundTrip() throws {
        let payload = (0..<64).map { UInt8($0) }
        let frame = CANFrame(id: 0x18DA_F110, data: payload, isExtended: true, isFD: true, bitRateSwitch: true)
        let (raw, size) = try #require(frame.kernelFrame)
        #expect(size == 72)
        #expect(raw.can_id == 0x98DA_F110)
        #expect(raw.len == 64)
        #expect(raw.flags == SPAAK_CANFD_FDF | SPAAK_CANFD_BRS)
        #expect(Array(bytes(of: raw)[8...]) == payload)
        #expect(CANFrame(kernel: raw, size: size) == frame)
        #expect(frame.classicKernelFrame == nil)
    }

    @Test("FD frame of 12 bytes as the kernel delivers it (FDF set, no BRS)")
    func fdFromKernel() throws {
        var raw = canfd_frame()
        raw.can_id = 0x6A0
        raw.len = 12
        raw.flags = SPAAK_CANFD_FDF
        withUnsafeMutableBytes(of: &raw.data) { for i in 0..<12 { $0[i] = UInt8(0xA0 + i) } }
        let frame = try #require(CANFrame(kernel: raw, size: 72))
        #expect(frame.isFD && !frame.bitRateSwitch && !frame.isExtended)
        #expect(frame.id == 0x6A0)
        #expect(frame.data == (0..<12).map { UInt8(0xA0 + $0) })
    }

    @Test("a 16-byte read is classic even on an FD socket")
    func classicOnFDSocket() throws {
        var raw = canfd_frame()
        raw.can_id = 0x123
        raw.len = 2
        withUnsafeMutableBytes(of: &raw.data) { $0[0] = 0xDE; $0[1] = 0xAD }
        let frame = try #require(CANFrame(kernel: raw, size: 16))
        #expect(!frame.isFD)
        #expect(frame.description == "123#DEAD")
    }

    @Test("flags are stripped from the identifier")
    func flagsStripped() throws {
        var raw = canfd_frame()
        raw.can_id = 0x8000_0123
        let extended = try #require(CANFrame(kernel: raw, size: 16))
        #expect(extended.id == 0x123 && extended.isExtended)
        raw.can_id = 0x0000_F123  // junk above 11 bits of a standard id
        #expect(CANFrame(kernel: raw, size: 16)?.id == 0x123)
    }

    @Test("RTR, error frames, odd sizes and over-long lengths decode to nil")
    func ignored() {
        var raw = canfd_frame()
        raw.can_id = 0x123 | SPAAK_CAN_RTR_FLAG
        #expect(CANFrame(kernel: raw, size: 16) == nil)
        raw.can_id = 0x004 | SPAAK_CAN_ERR_FLAG
        #expect(CANFrame(kernel: raw, size: 16) == nil)
        raw.can_id = 0x123
        #expect(CANFrame(kernel: raw, size: 20) == nil)
        #expect(CANFrame(kernel: raw, size: 0) == nil)
        raw.len = 9
        #expect(CANFrame(kernel: raw, size: 16) == nil)
        raw.len = 65
        #expect(CANFrame(kernel: raw, size: 72) == nil)
    }

    @Test("invalid frames have no kernel form")
    func invalidFrames() {
        #expect(CANFrame(id: 0x800, data: []).kernelFrame == nil)
        #expect(CANFrame(id: 0x2000_0000, data: [], isExtended: true).kernelFrame == nil)
        #expect(CANFrame(id: 0x100, data: Array(repeating: 0, count: 9)).kernelFrame == nil)
        #expect(CANFrame(id: 0x100, data: Array(repeating: 0, count: 13), isFD: true).kernelFrame == nil)
        #expect(CANFrame(id: 0x100, data: Array(repeating: 0, count: 8), isFD: true).kernelFrame?.size == 72)
    }
}
