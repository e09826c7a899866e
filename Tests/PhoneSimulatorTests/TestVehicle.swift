import APDU
import CloudProtocol
import Crypto
import Foundation
import PhoneSimulator
import SPAKE2Plus
import TestPKI
import X509

/// A provisioned vehicle for the tests: a PKI, the vehicle identity key and its [K] under
/// [J1], and the SPAKE2+ verifier record of a password (ICD 7.6, small scrypt cost).
struct TestVehicle {
    static let vin = Array("VF3ABCDEF12345678".utf8)
    static let password = Array("0123456789012".utf8)
    static let salt: [UInt8] = Array(0...15)
    static let n: UInt32 = 4096

    let pki: TestPKIHierarchy
    let vehicleKey = P256.Signing.PrivateKey()
    let vehicleCertificate: [UInt8]
    let record: SpakeVerifierRecord

    init(password: [UInt8] = TestVehicle.password, pki: TestPKIHierarchy? = nil) throws {
        let pki = try pki ?? TestPKIHierarchy.generate()
        self.pki = pki
        vehicleCertificate = try pki.leafSpec(commonName: "VEHICLE-VF3ABCDEF12345678", publicKey: Certificate.PublicKey(vehicleKey.publicKey),
                                              now: Date(), validityDays: 365).issue().derBytes()
        record = try SpakeVerifierDerivation.record(password: password, salt: Self.salt, n: Self.n, r: 8, p: 1)
    }

    var root: [UInt8] { pki[.j].der }
    var subCA: [UInt8] { pki[.j1].der }

    var parameters: SPAKE2RequestParameters {
        SPAKE2RequestParameters(salt: record.salt, n: record.n, r: record.r, p: record.p, vin: Self.vin)
    }

    /// A phone that trusts this vehicle's [J] and knows `password`.
    func phone(password: [UInt8]? = TestVehicle.password, trustedRoot: [UInt8]? = nil, name: String = "Alice's phone",
               vehicleCertificate: [UInt8]? = nil) throws -> PhoneDevice {
        let trust = try VehicleTrust(rootDER: trustedRoot ?? root, date: Date())
        return PhoneDevice(configuration: .init(password: password.map(PasswordSecrets.init(password:)), trust: trust,
                                                endpointKey: P256.Signing.PrivateKey(), friendlyName: name,
                                                vehicleCertificate: vehicleCertificate))
    }
}

/// The module's side of ICD 8.3 written in the test from the SPAKE2+ verifier and the tag 70
/// encryption: it builds each command and checks each answer.
struct ScriptedModule {
    let vehicle: TestVehicle
    var verifier: SPAKE2PlusVerifier?
    var encryption: PairingEncryption?
    var vehicleEphemeral = P256.KeyAgreement.PrivateKey()
    var transactionID: [UInt8] = (0..<16).map { _ in UInt8.random(in: 0...255) }
    var deviceEphemeral: [UInt8] = []

    init(vehicle: TestVehicle) { self.vehicle = vehicle }

    static func exchange(_ device: inout PhoneDevice, _ command: PairingCommand) throws -> ResponseAPDU {
        let answer = device.respond(to: command.apdu.bytes, date: Date())
        return try ResponseAPDU(bytes: answer.response.bytes)
    }

    /// SPAKE2+ VERIFY from the device's shareP.
    mutating func verify(shareP: [UInt8]) throws -> PairingCommand {
        let verifier = try SPAKE2PlusVerifier(identities: .ownerPairing(vin: TestVehicle.vin), w0: vehicle.record.w0,
                                              l: vehicle.record.l, shareP: shareP)
        self.verifier = verifier
        return .spake2Verify(shareV: verifier.shareV, confirmV: verifier.confirmV)
    }

    /// Checks confirmP; WRITE DATA with `certificate` ([K]) and `subCA` ([J1]).
    mutating func writeData(confirmP: [UInt8], certificate: [UInt8]? = nil, subCA: [UInt8]? = nil) throws -> PairingCommand {
        let sharedKey = try verifier!.confirm(confirmP: confirmP)
        let encryption = PairingEncryption(sharedKey: sharedKey)
        self.encryption = encryption
        let plaintext = BERTLV([(PairingTag.vehicleCertificate, certificate ?? vehicle.vehicleCertificate),
                                (PairingTag.subCACertificate, subCA ?? vehicle.subCA)]).bytes
        return .writeData(encrypted: try encryption.seal(plaintext, direction: .moduleToDevice, counter: 1))
    }

    /// The endpoint key and name from GET DATA's answer.
    func endpoint(_ data: [UInt8]) throws -> (key: [UInt8], friendlyName: String) {
        let plaintext = try encryption!.open(try PairingResponse.encrypted(data), direction: .deviceToModule, counter: 1)
        return try PairingResponse.endpoint(plaintext)
    }

    var auth0: PairingCommand {
        .auth0(vehicleEphemeralKey: Array(vehicleEphemeral.publicKey.x963Representation), transactionID: transactionID)
    }

    /// AUTH1 signed by `signer` (the vehicle key unless given).
    mutating func auth1(deviceEphemeralKey: [UInt8], signer: P256.Signing.PrivateKey? = nil) throws -> PairingCommand {
        deviceEphemeral = deviceEphemeralKey
        let message = transactionID + Array(vehicleEphemeral.publicKey.x963Representation) + deviceEphemeralKey
            + Array("SpaaK AUTH1 vehicle".utf8)
        return .auth1(vehicleSignature: Array(try (signer ?? vehicle.vehicleKey).signature(for: message).derRepresentation))
    }

    /// Whether the device's AUTH1 signature verifies under `endpointKey`.
    func deviceSignatureVerifies(_ data: [UInt8], endpointKey: [UInt8]) throws -> Bool {
        let der = try PairingResponse.deviceSignature(data)
        let message = transactionID + deviceEphemeral + Array(vehicleEphemeral.publicKey.x963Representation)
            + Array("SpaaK AUTH1 device".utf8)
        let key = try P256.Signing.PublicKey(x963Representation: endpointKey)
        return key.isValidSignature(try P256.Signing.ECDSASignature(derRepresentation: der), for: message)
    }
}
