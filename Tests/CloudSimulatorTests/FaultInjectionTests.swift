import CloudProtocol
import CloudSimulator
import Foundation
import SpaakCore
import Testing

@Suite("Fault injection on C2V messages")
struct FaultInjectionTests {
    let module: FakeModule
    let vos: VehicleOEMServer

    init() throws {
        module = try FakeModule()
        vos = try makeVOS(.memory, module: module)
    }

    /// The answer to a fresh VehicleSubjectIdRequest, as a raw result.
    func ask(_ txn: UInt8 = 0x10) throws -> VOSResult {
        vos.handleV2C(try module.request(.vehicleSubjectIdRequest, transactionID: Array(repeating: txn, count: 16)), date: testDate)
    }

    @Test("drop: nothing sent, no counter used; the next message is normal")
    func drop() throws {
        vos.faults.arm(.drop)
        let dropped = try ask()
        #expect(dropped.transmissions.isEmpty)
        #expect(dropped.events.last?.outcome == .dropped)
        let next = try C2V(try #require(try ask(0x11).transmissions.first).bytes)
        #expect(next.message.counter == 1)
        #expect(vos.faults.armed == nil)
    }

    @Test("delay: the message carries the delay")
    func delay() throws {
        vos.faults.arm(.delay(milliseconds: 1500))
        let result = try ask()
        #expect(result.transmissions.first?.delay == .milliseconds(1500))
        #expect(result.transmissions.first?.event.fault == "delay 1500")
    }

    @Test("corrupt-signature: decodes, same fields, signature no longer valid")
    func corruptSignature() throws {
        vos.faults.arm(.corruptSignature)
        let c2v = try C2V(try #require(try ask().transmissions.first).bytes)
        #expect(!c2v.signatureValid)
        #expect(c2v.message.type == .vehicleSubjectIdResponse)
        #expect(c2v.message.transactionID == Array(repeating: 0x10, count: 16))
    }

    @Test("replay: the previous C2V message is sent again, byte for byte")
    func replay() throws {
        let first = try #require(try ask().transmissions.first).bytes
        vos.faults.arm(.replay)
        let replayed = try #require(try ask(0x12).transmissions.first)
        #expect(replayed.bytes == first)
        #expect(replayed.event.fault == "replay")
        // Afterwards the counter has moved on past the message that was not sent.
        let next = try C2V(try #require(try ask(0x13).transmissions.first).bytes)
        #expect(next.message.counter == 3)
    }

    @Test("wrong-transaction: a different transaction id, validly signed")
    func wrongTransaction() throws {
        vos.faults.arm(.wrongTransaction)
        let c2v = try C2V(try #require(try ask().transmissions.first).bytes)
        #expect(c2v.signatureValid)
        #expect(c2v.message.transactionID != Array(repeating: 0x10, count: 16))
        #expect(c2v.message.type == .vehicleSubjectIdResponse)
    }

    @Test("wrong-type: a completion ack instead of the subject id response, validly signed")
    func wrongType() throws {
        vos.faults.arm(.wrongType)
        let c2v = try C2V(try #require(try ask().transmissions.first).bytes)
        #expect(c2v.signatureValid)
        #expect(c2v.message.type == .c2vUsecaseCompletionAck)
        #expect(c2v.message.transactionID == Array(repeating: 0x10, count: 16))
    }

    @Test("error CODE: an ErrorResponse with that code, --count 2 hits two messages")
    func errorCode() throws {
        vos.faults.arm(.error(code: 9), count: 2)
        for txn: UInt8 in [0x20, 0x21] {
            let c2v = try C2V(try #require(try ask(txn).transmissions.first).bytes)
            #expect(c2v.signatureValid)
            #expect(c2v.message.payload == .errorResponse(resultCode: 9))
            #expect(c2v.message.transactionID == Array(repeating: txn, count: 16))
        }
        let normal = try C2V(try #require(try ask(0x22).transmissions.first).bytes)
        #expect(normal.message.type == .vehicleSubjectIdResponse)
    }

    @Test("Faults hit pushes too: a KTS termination with a corrupted signature")
    func faultOnPush() throws {
        vos.faults.arm(.corruptSignature)
        let c2v = try C2V(try #require(try vos.terminateOwnerKey(serial: testSerial, date: testDate).transmissions.first).bytes)
        #expect(c2v.message.type == .ownerKeyTermination)
        #expect(!c2v.signatureValid)
    }
}
