import APDU
import CloudProtocol
import Crypto
import Foundation
import PhoneSimulator
import SPAKE2Plus
import TestPKI
import Testing

@Suite("The phone's answers (ICD 8.3, device side)")
struct PhoneDeviceTests {
    let vehicle: TestVehicle

    init() throws {
        vehicle = try TestVehicle()
    }

    /// Phase 2 up to the answer of WRITE DATA; returns the module side and the device.
    private func throughWriteData(_ device: inout PhoneDevice, module: inout ScriptedModule) throws -> ResponseAPDU {
        #expect(try ScriptedModule.exchange(&device, .select).status == .success)
        let share = try ScriptedModule.exchange(&device, .spake2Request(vehicle.parameters))
        #expect(share.status == .success)
        let verify = try ScriptedModule.exchange(&device, try module.verify(shareP: try PairingResponse.shareP(share.data)))
        #expect(verify.status == .success)
        return try ScriptedModule.exchange(&device, try module.writeData(confirmP: try PairingResponse.confirmP(verify.data)))
    }

    @Test("phase 2 then phase 3 against a verifier side: confirmP, [K] accepted, endpoint key, AUTH1 signature")
    func fullPairing() throws {
        var device = try vehicle.phone()
        var module = ScriptedModule(vehicle: vehicle)

        let select = device.respond(to: PairingCommand.select.apdu.bytes, date: Date())
        #expect(select.response.bytes == [0x5C, 0x02, 0x01, 0x00, 0x90, 0x00])
        let request = device.respond(to: PairingCommand.spake2Request(vehicle.parameters).apdu.bytes, date: Date())
        #expect(request.status == .success)
        #expect(request.step == .spake2Request)
        let verify = try ScriptedModule.exchange(&device, try module.verify(shareP: try PairingResponse.shareP(request.response.data)))
        #expect(verify.status == .success)
        let written = try ScriptedModule.exchange(&device, try module.writeData(confirmP: try PairingResponse.confirmP(verify.data)))
        #expect(written == ResponseAPDU())
        #expect(device.vehicleCertificate == nil)

        let get = device.respond(to: PairingCommand.getData.apdu.bytes, date: Date())
        #expect(get.status == .success)
        #expect(get.completedPhase == .two)
        #expect(get.newVehicleCertificate == vehicle.vehicleCertificate)
        #expect(device.vehicleCertificate == vehicle.vehicleCertificate)
        let endpoint = try module.endpoint(get.response.data)
        #expect(endpoint.key == device.endpointPublicKey)
        #expect(endpoint.friendlyName == "Alice's phone")

        device.leaveField()
        #expect(try ScriptedModule.exchange(&device, .select).status == .success)
        let auth0 = try ScriptedModule.exchange(&device, module.auth0)
        #expect(auth0.status == .success)
        let deviceEphemeral = try PairingResponse.deviceEphemeralKey(auth0.data)
        let auth1 = device.respond(to: try module.auth1(deviceEphemeralKey: deviceEphemeral).apdu.bytes, date: Date())
        #expect(auth1.status == .success)
        #expect(auth1.completedPhase == .three)
        #expect(try module.deviceSignatureVerifies(auth1.response.data, endpointKey: device.endpointPublicKey))
    }

    @Test("w0 of the ICD 7.6 vector from the password; scrypt runs once per parameter set")
    func derivationAndCache() throws {
        var secrets = PasswordSecrets(password: TestVehicle.password)
        let derived = try secrets.secrets(for: vehicle.parameters)
        #expect(derived.w0.hexString == "B3E75CB2B47FF7BFCC46187EDF15B61103DED2A0D683A18AB3873A71F5704D1B")
        #expect(derived.l == vehicle.record.l)
        _ = try secrets.secrets(for: vehicle.parameters)
        #expect(secrets.derivations == 1)
        var other = vehicle.parameters
        other.salt[0] ^= 1
        _ = try secrets.secrets(for: other)
        #expect(secrets.derivations == 2)
    }

    @Test("scrypt costs beyond the device's limits are refused with 6A 80, before any derivation")
    func scryptLimits() throws {
        var device = try vehicle.phone()
        for (n, r, p) in [(UInt32(1) << 22, UInt16(8), UInt16(1)), (3000, 8, 1), (4096, 8, 17), (4096, 0, 1)] {
            _ = device.respond(to: PairingCommand.select.apdu.bytes, date: Date())
            var parameters = vehicle.parameters
            (parameters.n, parameters.r, parameters.p) = (n, r, p)
            #expect(device.respond(to: PairingCommand.spake2Request(parameters).apdu.bytes, date: Date()).status == .wrongData)
        }
    }

    @Test("a wrong password: confirmV does not verify, 69 82; the session is over (69 85)")
    func wrongPassword() throws {
        var device = try vehicle.phone(password: PasswordSecrets.wrongPassword(for: TestVehicle.password))
        var module = ScriptedModule(vehicle: vehicle)
        _ = try ScriptedModule.exchange(&device, .select)
        let share = try ScriptedModule.exchange(&device, .spake2Request(vehicle.parameters))
        let verify = device.respond(to: try module.verify(shareP: try PairingResponse.shareP(share.data)).apdu.bytes, date: Date())
        #expect(verify.response.bytes == [0x69, 0x82])
        #expect(verify.step == .verify)
        #expect(device.respond(to: PairingCommand.getData.apdu.bytes, date: Date()).status == .conditionsNotSatisfied)
    }

    @Test("--wrong-password moves the last digit by one")
    func wrongPasswordShape() {
        #expect(PasswordSecrets.wrongPassword(for: Array("0123456789012".utf8)) == Array("0123456789013".utf8))
        #expect(PasswordSecrets.wrongPassword(for: Array("19".utf8)) == Array("10".utf8))
        #expect(PasswordSecrets.wrongPassword(for: []) == Array("0".utf8))
    }

    @Test("[K] from another PKI: 6A 80, nothing kept")
    func foreignVehicleCertificate() throws {
        let stranger = try TestVehicle()
        var device = try vehicle.phone()
        var module = ScriptedModule(vehicle: vehicle)
        _ = try ScriptedModule.exchange(&device, .select)
        let share = try ScriptedModule.exchange(&device, .spake2Request(vehicle.parameters))
        let verify = try ScriptedModule.exchange(&device, try module.verify(shareP: try PairingResponse.shareP(share.data)))
        let write = device.respond(to: try module.writeData(confirmP: try PairingResponse.confirmP(verify.data),
                                                            certificate: stranger.vehicleCertificate, subCA: stranger.subCA).apdu.bytes,
                                   date: Date())
        #expect(write.response.bytes == [0x6A, 0x80])
        #expect(write.note.contains("[K]"))
        #expect(device.respond(to: PairingCommand.getData.apdu.bytes, date: Date()).status == .conditionsNotSatisfied)
        #expect(device.vehicleCertificate == nil)
    }

    @Test("[K] under the right [J] but with a [J1] of another PKI: 6A 80")
    func foreignSubCA() throws {
        let stranger = try TestVehicle()
        var device = try vehicle.phone()
        var module = ScriptedModule(vehicle: vehicle)
        _ = try ScriptedModule.exchange(&device, .select)
        let share = try ScriptedModule.exchange(&device, .spake2Request(vehicle.parameters))
        let verify = try ScriptedModule.exchange(&device, try module.verify(shareP: try PairingResponse.shareP(share.data)))
        let write = try ScriptedModule.exchange(&device, try module.writeData(confirmP: try PairingResponse.confirmP(verify.data),
                                                                              subCA: stranger.subCA))
        #expect(write.status == .wrongData)
    }

    @Test("a phone that trusts another [J] refuses this vehicle's [K]")
    func otherTrustedRoot() throws {
        let stranger = try TestVehicle()
        var device = try vehicle.phone(trustedRoot: stranger.root)
        var module = ScriptedModule(vehicle: vehicle)
        #expect(try throughWriteData(&device, module: &module).status == .wrongData)
    }

    @Test("WRITE DATA whose tag 70 does not decrypt: 6A 80")
    func corruptedCiphertext() throws {
        var device = try vehicle.phone()
        var module = ScriptedModule(vehicle: vehicle)
        _ = try ScriptedModule.exchange(&device, .select)
        let share = try ScriptedModule.exchange(&device, .spake2Request(vehicle.parameters))
        let verify = try ScriptedModule.exchange(&device, try module.verify(shareP: try PairingResponse.shareP(share.data)))
        guard case .writeData(var sealed) = try module.writeData(confirmP: try PairingResponse.confirmP(verify.data)) else {
            Issue.record("not WRITE DATA")
            return
        }
        sealed[sealed.count - 1] ^= 0x01
        #expect(try ScriptedModule.exchange(&device, .writeData(encrypted: sealed)).status == .wrongData)
    }

    @Test("commands out of order: 69 85")
    func outOfOrder() throws {
        var module = ScriptedModule(vehicle: vehicle)
        var device = try vehicle.phone(vehicleCertificate: vehicle.vehicleCertificate)
        // Nothing selected.
        #expect(try ScriptedModule.exchange(&device, .spake2Request(vehicle.parameters)).status == .conditionsNotSatisfied)
        // VERIFY right after SELECT.
        _ = try ScriptedModule.exchange(&device, .select)
        let verify = try module.verify(shareP: try SPAKE2PlusProver(identities: .ownerPairing(vin: TestVehicle.vin),
                                                                    w0: vehicle.record.w0, w1: vehicle.record.w0).shareP)
        #expect(try ScriptedModule.exchange(&device, verify).status == .conditionsNotSatisfied)
        // GET DATA right after SELECT.
        _ = try ScriptedModule.exchange(&device, .select)
        #expect(try ScriptedModule.exchange(&device, .getData).status == .conditionsNotSatisfied)
        // AUTH1 before AUTH0.
        _ = try ScriptedModule.exchange(&device, .select)
        #expect(try ScriptedModule.exchange(&device, .auth1(vehicleSignature: [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01])).status
                == .conditionsNotSatisfied)
        // AUTH0 in the middle of phase 2.
        _ = try ScriptedModule.exchange(&device, .select)
        _ = try ScriptedModule.exchange(&device, .spake2Request(vehicle.parameters))
        #expect(try ScriptedModule.exchange(&device, module.auth0).status == .conditionsNotSatisfied)
        // After leaving the field, the session is gone.
        _ = try ScriptedModule.exchange(&device, .select)
        let share = try ScriptedModule.exchange(&device, .spake2Request(vehicle.parameters))
        device.leaveField()
        #expect(try ScriptedModule.exchange(&device, try module.verify(shareP: try PairingResponse.shareP(share.data))).status
                == .conditionsNotSatisfied)
    }

    @Test("a malformed command gets 6A 80 and ends the session")
    func malformed() throws {
        var device = try vehicle.phone()
        _ = try ScriptedModule.exchange(&device, .select)
        #expect(device.respond(to: [0x80, 0x30, 0x00], date: Date()).response.bytes == [0x6A, 0x80])
        #expect(device.respond(to: CommandAPDU(cla: 0x80, ins: 0x30, data: [0x5B, 0x02, 0x01]).bytes, date: Date()).status == .wrongData)
        #expect(try ScriptedModule.exchange(&device, .spake2Request(vehicle.parameters)).status == .conditionsNotSatisfied)
    }

    @Test("AUTH1 signed by another key than [K]'s: 69 82")
    func badVehicleSignature() throws {
        var device = try vehicle.phone(vehicleCertificate: vehicle.vehicleCertificate)
        var module = ScriptedModule(vehicle: vehicle)
        _ = try ScriptedModule.exchange(&device, .select)
        let auth0 = try ScriptedModule.exchange(&device, module.auth0)
        let auth1 = try ScriptedModule.exchange(&device, try module.auth1(deviceEphemeralKey: try PairingResponse.deviceEphemeralKey(auth0.data),
                                                                          signer: P256.Signing.PrivateKey()))
        #expect(auth1.bytes == [0x69, 0x82])
    }

    @Test("phase 3 without a paired vehicle, phase 2 without a password: 69 85")
    func missingSecrets() throws {
        var device = try vehicle.phone(password: nil)
        let module = ScriptedModule(vehicle: vehicle)
        _ = try ScriptedModule.exchange(&device, .select)
        #expect(try ScriptedModule.exchange(&device, module.auth0).status == .conditionsNotSatisfied)
        _ = try ScriptedModule.exchange(&device, .select)
        #expect(try ScriptedModule.exchange(&device, .spake2Request(vehicle.parameters)).status == .conditionsNotSatisfied)
    }

    @Test("the key file keeps the endpoint key and [K]; junk is refused")
    func keyFile() throws {
        let key = P256.Signing.PrivateKey()
        let file = PhoneKeyFile(endpointKey: key, vehicleCertificate: vehicle.vehicleCertificate)
        let read = try PhoneKeyFile(pem: file.pem)
        #expect(read.endpointKey.rawRepresentation == key.rawRepresentation)
        #expect(read.vehicleCertificate == vehicle.vehicleCertificate)
        let bare = try PhoneKeyFile(pem: PhoneKeyFile(endpointKey: key).pem)
        #expect(bare.vehicleCertificate == nil)
        #expect(throws: PhoneKeyFileError.self) { try PhoneKeyFile(pem: "hello") }
        #expect(throws: PhoneKeyFileError.self) { try PhoneKeyFile(pem: file.pem + file.pem) }
        #expect(throws: PhoneKeyFileError.self) {
            try PhoneKeyFile(pem: try TestPKIHierarchy.generate()[.j].certificate.serializeAsPEM().pemString)
        }
    }
}

@Suite("hu-start's counter")
struct HUCounterTests {
    @Test("the next counter follows the kept one and wraps 14 → 0; without one it comes from the clock")
    func next() {
        #expect(HUCounter.next(after: 13, date: Date()) == 14)
        #expect(HUCounter.next(after: 14, date: Date()) == 0)
        #expect(HUCounter.next(after: nil, date: Date(timeIntervalSince1970: 1.6)) == 1)
        #expect(HUCounter.next(after: nil, date: Date(timeIntervalSince1970: 10)) == 10)
        #expect(HUCounter.next(after: nil, date: Date(timeIntervalSince1970: 1.5)) == 0)
    }

    @Test("the file's text: one number 0…14, anything else is no counter")
    func parse() {
        #expect(HUCounter.parse(HUCounter.text(7)) == 7)
        #expect(HUCounter.parse(" 14\n") == 14)
        #expect(HUCounter.parse("15") == nil)
        #expect(HUCounter.parse("x") == nil)
        #expect(HUCounter.parse("") == nil)
    }
}
