import SpaakCore
import Testing
@testable import UDS

@Suite("UDS read/write by identifier and routine control")
struct DataAndRoutineTests {
    static let vin = Array("VF3SPAAK000000001".utf8)

    /// Sends `hex`, checks the `.execute`, completes it at once with `result`; returns all actions.
    static func roundTrip(_ h: inout Harness, _ hex: String, expect operation: ApplicationOperation,
                          result: ApplicationResult, functional: Bool = false) -> [DiagnosticAction] {
        let actions = h.request(hex, functional: functional)
        guard let request = Harness.executed(actions) else {
            Issue.record("no .execute for \(hex): \(actions)")
            return actions
        }
        #expect(request.operation == operation)
        return actions + h.server.complete(request.token, with: result, now: h.now)
    }

    @Test func readOneDID() {
        var h = Harness()
        let actions = Self.roundTrip(&h, "22F190", expect: .readData(identifiers: [0xF190]), result: .dataRecords([Self.vin]))
        #expect(Harness.responses(actions) == ["62F190" + Self.vin.hexString])
        #expect(h.server.pendingToken == nil)
    }

    @Test func readSeveralDIDs() {
        var h = Harness()
        let serial = Array("SPK0000000001".utf8)
        let actions = Self.roundTrip(&h, "22F18CF190F195", expect: .readData(identifiers: [0xF18C, 0xF190, 0xF195]),
                                     result: .dataRecords([serial, Self.vin, [0x31]]))
        #expect(Harness.responses(actions) == ["62F18C" + serial.hexString + "F190" + Self.vin.hexString + "F19531"])
    }

    @Test func readSkipsUnsupportedDIDs() {
        var h = Harness()
        let actions = Self.roundTrip(&h, "22F18C1234F195", expect: .readData(identifiers: [0xF18C, 0xF195]),
                                     result: .dataRecords([[0xAA], [0xBB]]))
        #expect(Harness.responses(actions) == ["62F18CAAF195BB"])
    }

    @Test func readAcceptsPreformattedPositive() {
        var h = Harness()
        let actions = Self.roundTrip(&h, "22D122", expect: .readData(identifiers: [0xD122]), result: .positive([0xD1, 0x22, 0x01]))
        #expect(Harness.responses(actions) == ["62D12201"])
    }

    @Test func readNoSupportedDID() {
        var h = Harness()
        #expect(h.sent("221234") == ["7F2231"])
        #expect(h.sent("2212345678") == ["7F2231"])
        #expect(h.sent("221234", functional: true) == [])
    }

    @Test func readLengthErrors() {
        var h = Harness()
        #expect(h.sent("22") == ["7F2213"])
        #expect(h.sent("22F1") == ["7F2213"])
        #expect(h.sent("22F19001") == ["7F2213"])
        #expect(h.sent("22F19001", functional: true) == ["7F2213"])
    }

    @Test func readWithoutValueAnswersConditionsNotCorrect() {
        var h = Harness()
        let actions = Self.roundTrip(&h, "22D100", expect: .readData(identifiers: [0xD100]), result: .negative(.conditionsNotCorrect))
        #expect(Harness.responses(actions) == ["7F2222"])
    }

    @Test func readSessionAndSecurityPerDID() {
        let configuration = DiagnosticServerConfiguration(
            dataIdentifiers: [DataIdentifierEntry(0x0100), DataIdentifierEntry(0x0200, read: .extended),
                              DataIdentifierEntry(0x0300, read: .extendedUnlocked)], routines: [])
        var h = Harness(configuration: configuration)
        #expect(h.sent("220200") == ["7F2231"])    // not in the default session
        let actions = Self.roundTrip(&h, "2201000200", expect: .readData(identifiers: [0x0100]), result: .dataRecords([[7]]))
        #expect(Harness.responses(actions) == ["62010007"])
        h.enterExtended()
        #expect(h.sent("2201000300") == ["7F2233"])
        h.unlock()
        #expect(Harness.executed(h.request("2201000300"))?.operation == .readData(identifiers: [0x0100, 0x0300]))
    }

    @Test func readResponseTooLong() {
        var h = Harness()
        let big = [UInt8](repeating: 0x30, count: 4093)
        let actions = Self.roundTrip(&h, "22D101", expect: .readData(identifiers: [0xD101]), result: .dataRecords([big]))
        #expect(Harness.responses(actions) == ["7F2214"])
        let fits = Self.roundTrip(&h, "22D101", expect: .readData(identifiers: [0xD101]), result: .dataRecords([Array(big.dropLast())]))
        #expect(Harness.responses(fits).first?.count == 2 * 4095)
    }

    @Test func readWrongRecordCountIsAGeneralReject() {
        var h = Harness()
        let actions = Self.roundTrip(&h, "22F18CF190", expect: .readData(identifiers: [0xF18C, 0xF190]), result: .dataRecords([[1]]))
        #expect(Harness.responses(actions) == ["7F2210"])
    }

    @Test func writeVIN() {
        var h = Harness()
        h.unlock()
        let actions = Self.roundTrip(&h, "2EF190" + Self.vin.hexString,
                                     expect: .writeData(identifier: 0xF190, data: Self.vin), result: .positive([]))
        #expect(Harness.responses(actions) == ["6EF190"])
    }

    @Test func writeErrors() {
        var h = Harness()
        h.enterExtended()
        #expect(h.sent("2EF190" + Self.vin.hexString) == ["7F2E33"])
        h.unlock()
        #expect(h.sent("2EF190" + Self.vin.dropLast().hexString) == ["7F2E13"])
        #expect(h.sent("2EF190") == ["7F2E13"])
        #expect(h.sent("2EF1") == ["7F2E13"])
        #expect(h.sent("2EF18C41") == ["7F2E31"])      // read-only
        #expect(h.sent("2E123441") == ["7F2E31"])      // unknown
        #expect(h.sent("2E123441", functional: true) == [])
    }

    @Test func writeFailuresFromTheApplication() {
        var h = Harness()
        h.unlock()
        for code in [NegativeResponseCode.generalProgrammingFailure, .conditionsNotCorrect, .requestOutOfRange] {
            let actions = Self.roundTrip(&h, "2ED11030", expect: .writeData(identifier: 0xD110, data: [0x30]),
                                         result: .negative(code))
            #expect(Harness.responses(actions) == ["7F2E" + [code.rawValue].hexString])
        }
    }

    @Test func startRoutineAndResults() {
        var h = Harness()
        h.enterExtended()
        let start = Self.roundTrip(&h, "3101D202", expect: .routineControl(.startRoutine, identifier: 0xD202, options: []),
                                   result: .positive([0x00, 0x01, 0x04]))
        #expect(Harness.responses(start) == ["7101D202000104"])
        let results = Self.roundTrip(&h, "3103D202", expect: .routineControl(.requestRoutineResults, identifier: 0xD202, options: []),
                                     result: .positive([0x00]))
        #expect(Harness.responses(results) == ["7103D20200"])
    }

    /// A routine whose table entry takes an option record of any length gets it; the ICD's
    /// routines take none (issue 7 defect 8: `31 01 F011 AB` answers 0x13, see
    /// RoutineControlConformanceTests).
    @Test func startRoutineWithOptionRecord() {
        var configuration = DiagnosticServerConfiguration()
        configuration.routines += [RoutineEntry(0x0A02, startOptionLength: nil)]
        var h = Harness(configuration: configuration)
        h.enterExtended()
        let withOptions = Self.roundTrip(&h, "31010A02AB", expect: .routineControl(.startRoutine, identifier: 0x0A02, options: [0xAB]),
                                         result: .positive([]))
        #expect(Harness.responses(withOptions) == ["71010A02"])
    }

    @Test func routineNeedingSecurity() {
        var h = Harness()
        h.enterExtended()
        #expect(h.sent("3101D200") == ["7F3133"])
        h.unlock()
        let actions = Self.roundTrip(&h, "3101D200", expect: .routineControl(.startRoutine, identifier: 0xD200, options: []),
                                     result: .positive([0x00]))
        #expect(Harness.responses(actions) == ["7101D20000"])
    }

    @Test func routineErrors() {
        var configuration = DiagnosticServerConfiguration()
        configuration.routines += [RoutineEntry(0x0A01, supportsStop: true, supportsResults: false, startOptionLength: 2)]
        var h = Harness(configuration: configuration)
        h.enterExtended()
        #expect(h.sent("3102D202") == ["7F3112"])          // no stop for this routine
        let stop = Self.roundTrip(&h, "31020A01", expect: .routineControl(.stopRoutine, identifier: 0x0A01, options: []),
                                  result: .positive([]))
        #expect(Harness.responses(stop) == ["71020A01"])  // stop exists for 0x0A01
        #expect(h.sent("31030A01") == ["7F3112"])          // no results for 0x0A01
        #expect(h.sent("31010A0101") == ["7F3113"])        // option record must be 2 bytes
        let start = Self.roundTrip(&h, "31010A010102", expect: .routineControl(.startRoutine, identifier: 0x0A01, options: [1, 2]),
                                   result: .positive([]))
        #expect(Harness.responses(start) == ["71010A01"])
        #expect(h.sent("31041234") == ["7F3112"])          // unknown sub-function first
        #expect(h.sent("31011234") == ["7F3131"])
        #expect(h.sent("31011234", functional: true) == [])
        #expect(h.sent("3101D2") == ["7F3113"])
        #expect(h.sent("31") == ["7F3113"])
    }

    @Test func routineResultsBeforeStartIsTheApplicationsSequenceError() {
        var h = Harness()
        h.enterExtended()
        let actions = Self.roundTrip(&h, "3103F010", expect: .routineControl(.requestRoutineResults, identifier: 0xF010, options: []),
                                     result: .negative(.requestSequenceError))
        #expect(Harness.responses(actions) == ["7F3124"])
    }

    @Test func suppressedRoutinePositiveResponse() {
        var h = Harness()
        h.enterExtended()
        let actions = Self.roundTrip(&h, "3181D202", expect: .routineControl(.startRoutine, identifier: 0xD202, options: []),
                                     result: .positive([0x00]))
        #expect(Harness.responses(actions) == [])
        let negative = Self.roundTrip(&h, "3181D202", expect: .routineControl(.startRoutine, identifier: 0xD202, options: []),
                                      result: .negative(.conditionsNotCorrect))
        #expect(Harness.responses(negative) == ["7F3122"])
    }

    @Test func functionalApplicationNegativeIsSuppressed() {
        var h = Harness()
        let actions = Self.roundTrip(&h, "22F190", expect: .readData(identifiers: [0xF190]),
                                     result: .negative(.requestOutOfRange), functional: true)
        #expect(Harness.responses(actions) == [])
    }

    @Test func icdTablesHaveTheICDEntries() {
        let dids = Set(DataIdentifierEntry.icdTable.map(\.identifier))
        #expect(dids == [0xF18C, 0xF190, 0xF195, 0xD100, 0xD101, 0xD110, 0xD111, 0xD112, 0xD113, 0xD114,
                         0xD120, 0xD121, 0xD122, 0xD123, 0xD124, 0xD125, 0xD130])
        #expect(DataIdentifierEntry.icdTable.filter { $0.write != nil }.count == 7)
        #expect(Set(RoutineEntry.icdTable.map(\.identifier)) == [0xD200, 0xD201, 0xD202, 0xD203, 0xF010, 0xF011])
    }
}
