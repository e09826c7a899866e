import SpaakCore
import Testing
@testable import UDS

@Suite("UDS message format: service identifiers and negative responses")
struct MessageFormatTests {
    @Test func serviceIdentifiersAreTheImplementedServices() {
        #expect(ServiceIdentifier.allCases.map(\.rawValue) == [0x10, 0x11, 0x22, 0x27, 0x2E, 0x31, 0x3E])
        #expect(ServiceIdentifier.allCases.map(\.positiveResponseSID) == [0x50, 0x51, 0x62, 0x67, 0x6E, 0x71, 0x7E])
        #expect(ServiceIdentifier(rawValue: 0x19) == nil)
        #expect(ServiceIdentifier.readDataByIdentifier.description == "ReadDataByIdentifier (0x22)")
        #expect(Set(DiagnosticServerConfiguration().serviceSessions.keys) == Set(ServiceIdentifier.allCases))
    }

    @Test func negativeResponseParsesExactlySevenFSidNrc() {
        let negative = NegativeResponse(bytes: [0x7F, 0x31, 0x78])
        #expect(negative == NegativeResponse(sid: 0x31, code: .responsePending))
        #expect(negative?.service == .routineControl)
        #expect(negative?.bytes == [0x7F, 0x31, 0x78])
        #expect(negative?.description == "7F 31 NRC 0x78")
        #expect(NegativeResponse(bytes: [0x7F, 0x19, 0x11])?.service == nil)   // unknown SIDs are echoed too
        #expect(NegativeResponse(bytes: [0x7F, 0x31]) == nil)
        #expect(NegativeResponse(bytes: [0x7F, 0x31, 0x78, 0x00]) == nil)
        #expect(NegativeResponse(bytes: [0x71, 0x01, 0xD2]) == nil)
        #expect(NegativeResponse(bytes: []) == nil)
    }

    @Test func aServiceLeftOutOfTheConfigurationIsNotSupported() {
        var configuration = DiagnosticServerConfiguration()
        configuration.serviceSessions[.testerPresent] = nil
        var h = Harness(configuration: configuration)
        #expect(h.sent("3E00") == ["7F3E11"])
        #expect(h.sent("1003") == ["5003003201F4"])
    }

    @Test func everyNegativeResponseOfTheServerParses() {
        var h = Harness()
        for request in ["19020A", "2701", "10", "1004", "22", "2EF19041"] {
            for response in Harness.responses(h.request(request)) {
                let bytes = [UInt8](hex: response) ?? []
                #expect(NegativeResponse(bytes: bytes)?.sid == bytes.dropFirst().first)
            }
        }
    }
}
