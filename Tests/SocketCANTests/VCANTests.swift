import CSocketCAN
import Glibc
import SpaakCore
import Testing

@testable import SocketCAN

/// Real traffic between two sockets on vcan0: runs where vcan0 exists (e.g. under
/// `scripts/vcan-run swift test …` or `scripts/vcan-run .build/debug/…PackageTests.xctest`).
/// Receivers filter on identifiers (0x5E0..0x5FF, extended 0x1F00_0000…) that no module
/// uses, so other traffic on the bus cannot disturb them.
enum VCAN {
    /// Whether PF_CAN works and vcan0 exists.
    static let exists: Bool = CANSocketTests.kernelHasCAN && if_nametoindex("vcan0") != 0
}

@Suite("CANSocket on a real vcan0", .serialized, .enabled(if: VCAN.exists))
struct VCANTests {
    /// Reads until `count` frames arrived (or one matching `stop`) or a second passed.
    private func collect(_ socket: CANSocket, count: Int, stop: (CANFrame) -> Bool = { _ in false }) throws -> [CANFrame] {
        var frames: [CANFrame] = []
        for _ in 0..<1000 where frames.count < count && !(frames.last.map(stop) ?? false) {
            if let frame = try socket.receive() { frames.append(frame) } else { usleep(1000) }
        }
        return frames
    }

    @Test("a classic frame goes from one socket to another, flags and all")
    func classic() throws {
        let rx = try CANSocket(interface: "vcan0")
        try rx.setFilter(ids: [0x5F1, 0x5F2], extendedIDs: [0x1F00_5678])
        let tx = try CANSocket(interface: "vcan0", filter: [0x5F1, 0x5F2])
        #expect(try rx.receive() == nil)
        let sent = [CANFrame(id: 0x5F1, data: [0x9B, 0, 3, 0, 0, 0, 0, 0]),
                    CANFrame(id: 0x1F00_5678, data: [1, 2], isExtended: true),
                    CANFrame(id: 0x5F2, data: [])]
        for frame in sent { #expect(try tx.send(frame)) }
        #expect(try collect(rx, count: 3) == sent)
        #expect(try tx.receive() == nil)  // no own messages
    }

    @Test("a burst of 600 frames (a 4095-byte ISO-TP message and more) fits the receive buffer")
    func burstFitsReceiveBuffer() throws {
        let rx = try CANSocket(interface: "vcan0", filter: [0x5F3])
        let tx = try CANSocket(interface: "vcan0")
        var size: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        #expect(getsockopt(rx.fileDescriptor, SOL_SOCKET, SO_RCVBUF, &size, &length) == 0)
        #expect(size >= CANSocket.receiveBufferBytes)
        var sent = 0
        for index in 0..<600 where try tx.send(CANFrame(id: 0x5F3, data: [UInt8(index & 0xFF)])) { sent += 1 }
        var received = 0
        while try rx.receive() != nil { received += 1 }
        #expect(sent == 600 && received == 600)
    }

    @Test("CAN FD frames with BRS reach FD sockets only")
    func fd() throws {
        let ids: [UInt32] = [0x5F3, 0x5F4, 0x5F5]
        let rx = try CANSocket(interface: "vcan0", fd: .ifAvailable, filter: ids)
        let classic = try CANSocket(interface: "vcan0", filter: ids)
        let tx = try CANSocket(interface: "vcan0", fd: .ifAvailable, filter: [])
        try #require(tx.fdEnabled, "vcan0 has MTU \(String(describing: tx.mtu)); CAN FD needs 72")
        let frame = CANFrame(id: 0x5F3, data: (0..<64).map { UInt8($0) }, isFD: true, bitRateSwitch: true)
        let short = CANFrame(id: 0x5F4, data: [0xAA, 0xBB], isFD: true)
        let plain = CANFrame(id: 0x5F5, data: [1])
        #expect(try tx.send(frame))
        #expect(try tx.send(short))
        #expect(try tx.send(plain))
        #expect(try collect(rx, count: 3) == [frame, short, plain])
        #expect(try collect(classic, count: 1) == [plain])
        #expect(throws: CANSocketError.self) { try classic.send(frame) }
    }

    @Test("receive filters pass only the listed identifiers")
    func filters() throws {
        let rx = try CANSocket(interface: "vcan0", filter: [0x5E1, 0x5E3])
        let tx = try CANSocket(interface: "vcan0", filter: [])
        for id: UInt32 in [0x5E0, 0x5E1, 0x5E2, 0x5E3] { _ = try tx.send(CANFrame(id: id, data: [UInt8(id & 0xFF)])) }
        _ = try tx.send(CANFrame(id: 0x5E1, data: [], isExtended: true))
        #expect(try collect(rx, count: 2).map(\.id) == [0x5E1, 0x5E3])
        usleep(20_000)
        #expect(try rx.receive() == nil)
        try rx.setFilter(ids: [], extendedIDs: [0x5E1])
        _ = try tx.send(CANFrame(id: 0x5E1, data: [7]))
        _ = try tx.send(CANFrame(id: 0x5E1, data: [8], isExtended: true))
        #expect(try collect(rx, count: 1) == [CANFrame(id: 0x5E1, data: [8], isExtended: true)])
        try rx.acceptAll()
        _ = try tx.send(CANFrame(id: 0x5E4, data: []))
        #expect(try collect(rx, count: 50) { $0.id == 0x5E4 }.last?.id == 0x5E4)
    }

    @Test("receiveBatch reads a burst in order")
    func batch() throws {
        let ids = (0..<150).map { 0x1F00_0100 + UInt32($0) }
        let rx = try CANSocket(interface: "vcan0")
        try rx.setFilter(ids: [], extendedIDs: ids)
        let tx = try CANSocket(interface: "vcan0", filter: [])
        let sent = ids.map { CANFrame(id: $0, data: [UInt8($0 & 0xFF)], isExtended: true) }
        for frame in sent { #expect(try tx.send(frame)) }
        usleep(50_000)
        var got: [CANFrame] = []
        for _ in 0..<100 where got.count < sent.count {
            got += try rx.receiveBatch(max: 64)
        }
        #expect(got == sent)
        #expect(try rx.receiveBatch(max: 64).isEmpty)
    }
}
