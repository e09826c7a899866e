import APDU
import CloudProtocol
import Crypto
import SPAKE2Plus

/// A device written for the tests from ICD 8.3: it answers the module's commands with a
/// password, and can be told to misbehave.
struct TestDevice {
    enum Fault: Equatable {
        case none
        case wrongConfirmP
        case corruptTag
        case offCurveShareP
        case longFriendlyName
        case badAuth1Signature
        case status(StatusWord, atInstruction: UInt8)
    }

    let secrets: SpakeVerifierSecrets
    var fault: Fault = .none
    let endpoint = P256.Signing.PrivateKey()
    var name = "Test phone"
    var prover: SPAKE2PlusProver?
    var encryption: PairingEncryption?
    var vehicleEphemeral: [UInt8] = []
    var transactionID: [UInt8] = []
    let ephemeral = P256.KeyAgreement.PrivateKey()
    var receivedCertificates: [UInt8: [UInt8]] = [:]

    init(secrets: SpakeVerifierSecrets) {
        self.secrets = secrets
    }

    var endpointPublicKey: [UInt8] { Array(endpoint.publicKey.x963Representation) }

    /// The response bytes to one command APDU.
    mutating func respond(to bytes: [UInt8]) throws -> [UInt8] {
        let apdu = try CommandAPDU(bytes: bytes)
        if case .status(let sw, let ins) = fault, ins == apdu.ins { return ResponseAPDU(status: sw).bytes }
        switch try PairingCommand(apdu: apdu) {
        case .select:
            return ResponseAPDU(data: BERTLV([(PairingTag.versions, [1, 0])]).bytes).bytes
        case .spake2Request(let parameters):
            let prover = try SPAKE2PlusProver(identities: .ownerPairing(vin: parameters.vin), w0: secrets.w0, w1: secrets.w1)
            self.prover = prover
            var shareP = prover.shareP
            if fault == .offCurveShareP { shareP[64] ^= 1 }
            return ResponseAPDU(data: BERTLV([(PairingTag.shareP, shareP)]).bytes).bytes
        case .spake2Verify(let shareV, let confirmV):
            let result = try prover!.finish(shareV: shareV, confirmV: confirmV)
            encryption = PairingEncryption(sharedKey: result.sharedKey)
            var confirmP = result.confirmP
            if fault == .wrongConfirmP { confirmP[0] ^= 1 }
            return ResponseAPDU(data: BERTLV([(PairingTag.confirmP, confirmP)]).bytes).bytes
        case .writeData(let sealed):
            let plain = try encryption!.open(sealed, direction: .moduleToDevice, counter: 1)
            for object in try BERTLV(parsing: plain).objects { receivedCertificates[object.tag] = object.value }
            return ResponseAPDU().bytes
        case .getData:
            let nameBytes = fault == .longFriendlyName ? [UInt8](repeating: 0x41, count: 33) : Array(name.utf8)
            let plain = BERTLV([(PairingTag.endpointKey, endpointPublicKey), (PairingTag.friendlyName, nameBytes)]).bytes
            var sealed = try encryption!.seal(plain, direction: .deviceToModule, counter: 1)
            if fault == .corruptTag { sealed[sealed.count - 1] ^= 1 }
            return ResponseAPDU(data: BERTLV([(PairingTag.encrypted, sealed)]).bytes).bytes
        case .auth0(let vehicleKey, let id):
            vehicleEphemeral = vehicleKey
            transactionID = id
            return ResponseAPDU(data: BERTLV([(PairingTag.deviceEphemeralKey, Array(ephemeral.publicKey.x963Representation))]).bytes).bytes
        case .auth1:
            let message = transactionID + Array(ephemeral.publicKey.x963Representation) + vehicleEphemeral + Array("SpaaK AUTH1 device".utf8)
            let signer = fault == .badAuth1Signature ? P256.Signing.PrivateKey() : endpoint
            let signature = Array(try signer.signature(for: message).derRepresentation)
            return ResponseAPDU(data: BERTLV([(PairingTag.signature, signature)]).bytes).bytes
        }
    }
}
