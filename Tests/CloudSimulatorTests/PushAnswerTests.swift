import CloudProtocol
import CloudSimulator
import Foundation
import SpaakCore
import Testing

/// `PushAnswer`: which V2C message ends which push (ICD 7.6, 8.5; docs/ICD-CHOICES.md).
@Suite("PushAnswer: the module's answer that ends a push")
struct PushAnswerTests {
    /// The bytes of the push `command` made by a VOS service with the fake module connected.
    private func pushed(_ command: String, backend: VOSServiceTests.Backend) throws -> [UInt8] {
        let service = backend.service("vos-1")
        _ = service.connected(1, hello: VOSService.Hello(tbm: "tbm", serials: [testSerial]), now: .zero, date: testDate)
        let (_, step) = service.control(try ControlCommand.parse("\(command) \(testSerial)"), now: .zero, date: testDate) { _ in [] }
        return try #require(step.actions.compactMap { if case .send(1, let bytes) = $0 { bytes } else { nil } }.first)
    }

    private func decoded(_ bytes: [UInt8]) throws -> CloudMessage { try CloudMessageCodec.decode(bytes).message }

    @Test("Answers to requests and malformed bytes are not pushes: nothing to wait for")
    func notPushes() throws {
        let backend = try VOSServiceTests.Backend()
        let service = backend.service("vos-1")
        _ = service.connected(1, hello: VOSService.Hello(tbm: "tbm", serials: []), now: .zero, date: testDate)
        let step = service.received(try backend.module.request(.vehicleSubjectIdRequest), from: 1, now: .zero, date: testDate)
        let answer = try #require(step.actions.compactMap { if case .send(1, let bytes) = $0 { bytes } else { nil } }.first)
        #expect(try decoded(answer).type == .vehicleSubjectIdResponse)
        #expect(PushAnswer(push: answer) == nil)
        #expect(PushAnswer(push: [0x01, 0x00, 0x01, 0x0A]) == nil)
        #expect(PushAnswer(push: []) == nil)
    }

    @Test("0x0A and 0x0E are answered by 0x0B and 0x0D echoing their transaction id, from their vehicle only")
    func echoedTransaction() throws {
        let backend = try VOSServiceTests.Backend()
        for (command, answerType) in [("push-verifier", CloudMessageType.spake2VerifierStatus),
                                      ("pairing-mode", CloudMessageType.ownerPairingStatus)] {
            let push = try pushed(command, backend: backend)
            let answer = try #require(PushAnswer(push: push))
            #expect(answer.answerType == answerType && answer.serial == testSerial)
            #expect(answer.transactionID == (try decoded(push).transactionID))
            #expect(answer.isAnswered(by: try decoded(try backend.module.answer(to: push))))
            let otherVehicle = try FakeModule(serial: "SPK0000000999")
            #expect(!answer.isAnswered(by: try decoded(try otherVehicle.answer(to: push))))
        }
    }

    @Test("0x0C is answered by 0x09 with reason 1 (owner key termination), not by another reason")
    func terminationAnswer() throws {
        let backend = try VOSServiceTests.Backend()
        let answer = try #require(PushAnswer(push: try pushed("terminate-owner-key", backend: backend)))
        #expect(answer.answerType == .spake2VerifierRequest && answer.transactionID == nil)
        let reason1 = try backend.module.request(.spake2VerifierRequest(.ownerKeyTermination), useCase: .pp03)
        let reason2 = try backend.module.request(.spake2VerifierRequest(.verifierDeletedAfterFailedPairings), useCase: .pp03)
        #expect(answer.isAnswered(by: try decoded(reason1)))
        #expect(!answer.isAnswered(by: try decoded(reason2)))
        #expect(PushAnswer.canAnswer(.spake2VerifierRequest) && !PushAnswer.canAnswer(.vehicleSubjectIdRequest))
    }
}
