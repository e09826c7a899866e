import E2E
import Foundation
import SpaakCore
import Testing

/// Cross-check with the DBC: builds every frame of tests/dbc/fixtures.txt from its named
/// signals with this module; tests/dbc/test_dbc.py decodes the same lines with cantools.
@Suite("DBC fixtures (tests/dbc/fixtures.txt)")
struct DBCFixtureTests {
    private static let spaakFlagNames: [(String, SpaakProvisioningFlags)] = [
        ("AllRootCertificatesInstalled", .allRootCertificatesInstalled),
        ("EcuIdentityKeyAndCsrPresent", .ecuIdentityKeyAndCSRPresent),
        ("EcuIdentityCertificateInstalled", .ecuIdentityCertificateInstalled),
        ("PlantLocked", .plantLocked),
        ("DrmUuidPresent", .drmUUIDPresent),
        ("VehicleIdentityCertificateKInstalled", .vehicleIdentityCertificateInstalled),
        ("Spake2PlusVerifierPresent", .spake2PlusVerifierPresent),
        ("TbmOnline", .tbmOnline),
    ]

    /// The CRC signal of each E2E frame (ICD 3, 8.1).
    private static let crcNames: [UInt32: String] = [
        0x3A0: "TBM_CRC", 0x3A8: "SPAAK_CRC", 0x3B0: "NFC_CRC", 0x3C0: "HU_CRC",
    ]

    private static func fixtureLines() throws -> [String] {
        // #filePath may go through the dev package's symlinked folder: resolve it.
        let here = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("tests/dbc/fixtures.txt"), encoding: .utf8)
        return text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") && !$0.isEmpty }
    }

    private static func build(id: UInt32, values: [String: UInt8]) -> CANFrame? {
        switch id {
        case 0x3A0:
            let signals = TBMStatusSignals(
                gsdpConnected: values["GsdpConnected"] == 1, spaakTopicSubscribed: values["SpaakTopicSubscribed"] == 1)
            return TBMStatusEncoder.frame(counter: values["TBM_AliveCounter"] ?? 0, signals: signals)
        case 0x3A8:
            var flags: SpaakProvisioningFlags = []
            for (name, flag) in spaakFlagNames where values[name] == 1 { flags.insert(flag) }
            let useCaseByte = values["ActiveUseCase"] ?? 0
            let useCase = UseCase(rawValue: useCaseByte)
            guard useCase != nil || useCaseByte == 0 else { return nil }
            let signals = SpaakStatusSignals(
                provisioningFlags: flags, activeUseCase: useCase, useCaseStep: values["UseCaseStep"] ?? 0,
                lastErrorCode: values["LastErrorCode"] ?? 0, failedPairingAttempts: values["FailedPairingAttempts"] ?? 0,
                ownerPairing: values["OwnerPairingState"] ?? 0)
            let data = E2EProfile.protect(dataID: 0x3A8, counter: values["SPAAK_AliveCounter"] ?? 0, signals: signals.signalBytes)
            return CANFrame(id: 0x3A8, data: data)
        case NFCStatusEncoder.defaultCANID:
            var encoder = NFCStatusEncoder(firstCounter: values["NFC_AliveCounter"] ?? 0)
            return encoder.nextFrame(NFCStatusSignals(
                devicePresent: values["DevicePresent"] == 1, readerReady: values["ReaderReady"] == 1))
        case HURequest.defaultCANID:
            return HURequest(rawValue: values["RequestCode"] ?? 0)?.frame(counter: values["HU_AliveCounter"] ?? 0)
        default:
            return nil
        }
    }

    @Test("Every fixture frame is what the Swift encoders produce from its signal values")
    func fixturesMatch() throws {
        let lines = try Self.fixtureLines()
        #expect(lines.count >= 4)
        var ids: Set<UInt32> = []
        var ownerPairingStates: Set<UInt8> = []
        for line in lines {
            let fields = line.split(separator: " ").map(String.init)
            let frameText = fields.first ?? ""
            let parts = frameText.split(separator: "#").map(String.init)
            let id = UInt32(parts.first ?? "", radix: 16) ?? 0
            var values: [String: UInt8] = [:]
            for field in fields.dropFirst() {
                let kv = field.split(separator: "=").map(String.init)
                if kv.count == 2, let value = UInt8(kv[1]) { values[kv[0]] = value }
            }
            let built = Self.build(id: id, values: values)
            #expect(built?.description == frameText, "fixture \(line)")
            let crcName = Self.crcNames[id] ?? "?"
            #expect(values[crcName] != nil && built?.data.first == values[crcName], "CRC value in \(line)")
            ids.insert(id)
            if id == 0x3A8 { ownerPairingStates.insert(values["OwnerPairingState"] ?? 0) }
        }
        #expect(ids == Set(Self.crcNames.keys), "a fixture for every E2E frame")
        #expect(ownerPairingStates == [0, 1, 2, 3], "SPAAK_Status byte 7: every owner pairing state")
    }
}
