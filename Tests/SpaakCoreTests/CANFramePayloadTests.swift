import Testing
@testable import SpaakCore

/// The inline payload of `CANFrame`: the same value whichever way it is built or read.
@Suite("CANFrame payload: inline storage, in-place access")
struct CANFramePayloadTests {
    @Test("built from an array or in place: equal frames, equal hashes, same bytes", arguments: [0, 1, 7, 8, 12, 48, 64])
    func builtEitherWay(count: Int) {
        let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 1) }
        let fromArray = CANFrame(id: 0x7A0, data: bytes, isFD: count > 8)
        let inPlace = CANFrame(id: 0x7A0, count: count, isFD: count > 8) { buffer in
            for i in 0..<count { buffer[i] = bytes[i] }
        }
        #expect(fromArray == inPlace)
        #expect(fromArray.hashValue == inPlace.hashValue)
        #expect(inPlace.data == bytes)
        #expect(inPlace.dataCount == count)
        #expect(inPlace.withUnsafeData { Array($0) } == bytes)
        for i in 0..<count { #expect(inPlace.byte(at: i) == bytes[i]) }
    }

    @Test("a payload longer than 64 bytes is kept as given, and stays invalid")
    func overlong() {
        let bytes = [UInt8](repeating: 0xAB, count: 65)
        let frame = CANFrame(id: 0x123, data: bytes, isFD: true)
        #expect(frame.data == bytes)
        #expect(frame.dataCount == 65)
        #expect(!frame.isValid)
        let inPlace = CANFrame(id: 0x123, count: 65, isFD: true) { $0.update(repeating: 0xAB) }
        #expect(inPlace == frame)
    }

    @Test("frames that differ in one byte, in length or in a trailing zero are different")
    func differences() {
        let a = CANFrame(id: 1, data: [1, 2, 3])
        #expect(a != CANFrame(id: 1, data: [1, 2, 4]))
        #expect(a != CANFrame(id: 1, data: [1, 2, 3, 0]))
        #expect(a != CANFrame(id: 1, data: [1, 2]))
        #expect(a == CANFrame(id: 1, data: [1, 2, 3]))
        #expect(Set([a, CANFrame(id: 1, data: [1, 2, 3, 0])]).count == 2)
    }

    @Test("changing data through the property: shorter, longer, one byte, past 64 and back")
    func mutation() {
        var frame = CANFrame(id: 0x3A0, data: [9, 9, 9, 9, 9, 9, 9, 9])
        frame.data = [1, 2]
        #expect(frame == CANFrame(id: 0x3A0, data: [1, 2]))
        frame.data[1] = 7
        #expect(frame.data == [1, 7])
        frame.data = [UInt8](repeating: 5, count: 70)
        #expect(frame.dataCount == 70)
        frame.data = [3]
        #expect(frame == CANFrame(id: 0x3A0, data: [3]))
        #expect(frame.description == "3A0#03")
    }
}
