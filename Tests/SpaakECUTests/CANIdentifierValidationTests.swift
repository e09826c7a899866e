import Testing

@testable import SpaakECU

/// Issue 7, defect 7: identifiers are checked once at start, with a message naming the option.
@Suite("CAN identifier validation")
struct CANIdentifierValidationTests {
    @Test("The ICD defaults are valid")
    func defaults() throws {
        try CANIdentifiers().validate()
    }

    @Test("A request id of 0x7FA derives the response id 0x802: refused, naming --uds-response-id")
    func derivedResponseOutOfRange() {
        var ids = CANIdentifiers()
        ids.udsRequest = 0x7FA
        ids.udsResponse = CANIdentifiers.defaultUDSResponse(forRequest: 0x7FA)
        #expect(ids.udsResponse == 0x802)
        #expect(throws: CANIdentifierError.self) { try ids.validate(responseDerived: true) }
        do {
            try ids.validate(responseDerived: true)
        } catch {
            #expect(error.description.contains("0x802"))
            #expect(error.description.contains("0x7FA + 8"))
            #expect(error.description.contains("--uds-response-id"))
        }
    }

    @Test("The command line's ids: the response id is derived when not given, and checked")
    func fromOptions() throws {
        let ids = try CANIdentifiers.validated(udsRequest: 0x7B0, udsResponse: nil, udsFunctional: 0x7DF, tbmStatus: 0x3A0,
                                               spaakStatus: 0x3A8, v2c: 0x6A0, c2v: 0x6A8)
        #expect(ids.udsResponse == 0x7B8)
        #expect(throws: CANIdentifierError.notStandard(name: "UDS response id (--uds-response-id)", id: 0x802,
                                                       derivedFrom: "UDS request id 0x7FA + 8")) {
            try CANIdentifiers.validated(udsRequest: 0x7FA, udsResponse: nil, udsFunctional: 0x7DF, tbmStatus: 0x3A0,
                                         spaakStatus: 0x3A8, v2c: 0x6A0, c2v: 0x6A8)
        }
        #expect(try CANIdentifiers.validated(udsRequest: 0x7FA, udsResponse: 0x7F2, udsFunctional: 0x7DF, tbmStatus: 0x3A0,
                                             spaakStatus: 0x3A8, v2c: 0x6A0, c2v: 0x6A8).udsResponse == 0x7F2)
    }

    @Test("Every identifier above 0x7FF is refused", arguments: 0..<7)
    func outOfRange(_ role: Int) {
        let paths: [WritableKeyPath<CANIdentifiers, UInt32>] = [
            \.tbmStatus, \.spaakStatus, \.v2c, \.c2v, \.udsRequest, \.udsResponse, \.udsFunctional,
        ]
        var ids = CANIdentifiers()
        ids[keyPath: paths[role]] = 0x800
        #expect(throws: CANIdentifierError.self) { try ids.validate() }
    }

    @Test("Two roles on one identifier are refused: received/received, sent/received, sent/sent")
    func shared() {
        var ids = CANIdentifiers()
        ids.udsFunctional = ids.udsRequest
        #expect(throws: CANIdentifierError.shared(first: "UDS request id (--uds-request-id)",
                                                  second: "UDS functional id (--uds-functional-id)", id: 0x7A0)) {
            try ids.validate()
        }
        ids = CANIdentifiers()
        ids.udsResponse = ids.tbmStatus
        #expect(throws: CANIdentifierError.self) { try ids.validate() }
        ids = CANIdentifiers()
        ids.v2c = ids.spaakStatus
        #expect(throws: CANIdentifierError.self) { try ids.validate() }
    }
}
