import APDU
import CloudProtocol
import Crypto
import SPAKE2Plus

/// The owner's phone of ICD 8.3 for module tests: it answers the module's command APDUs
/// with the SPAKE2+ secrets of a pairing password (after `Tests/OwnerPairingTests/TestDevice`).
/// A VERIFY whose confirmV does not verify (a wrong password) is answered `69 82`, as the
/// ICD says; any other command it cannot serve, `6A 80`.
struct PairingPhone {
    /// w0, w1 (and L) derived from the password the device was given.
    let secrets: SpakeVerifierSecrets
    /// The endpoint key pair (its public half becomes the owner key).
    let endpoint = P256.Signing.PrivateKey()
    var name = "Test phone"
    private var prover: SPAKE2PlusProver?
    private var encryption: PairingEncryption?
    private var vehicleEphemeral: [UInt8] = []
    private var transactionID: [UInt8] = []
    private let ephemeral = P256.KeyAgreement.PrivateKey()
    /// The certificates WRITE DATA carried, by tag (0x71 [K], 0x72 [J1]).
    private(set) var receivedCertificates: [UInt8: [UInt8]] = [:]
    /// The vehicle's AUTH1 signature (DER), message signed, for checks by the test.
    private(set) var vehicleAuth1: (signature: [UInt8], message: [UInt8])?

    init(secrets: SpakeVerifierSecrets) {
        self.secrets = secrets
    }

    /// The endpoint public key, 65 bytes uncompressed.
    var endpointPublicKey: [UInt8] { Array(endpoint.publicKey.x963Representation) }
    /// The owner key id the module must derive: SHA-256(endpoint key)[0..<8].
    var keyID: [UInt8] { Array(SHA256.hash(data: endpointPublicKey).prefix(8)) }

    /// The response bytes to one command APDU.
    mutating func respond(to bytes: [UInt8]) -> [UInt8] {
        do {
            return try answer(bytes).bytes
        } catch {
            return ResponseAPDU(status: .wrongData).bytes
        }
    }

    private mutating func answer(_ bytes: [UInt8]) throws -> ResponseAPDU {
        switch try PairingCommand(apdu: try CommandAPDU(bytes: bytes)) {
        case .select:
            return ResponseAPDU(data: BERTLV([(PairingTag.versions, PairingCommand.version)]).bytes)
        case .spake2Request(let parameters):
            let prover = try SPAKE2PlusProver(identities: .ownerPairing(vin: parameters.vin), w0: secrets.w0, w1: secrets.w1)
            self.prover = prover
            return ResponseAPDU(data: BERTLV([(PairingTag.shareP, prover.shareP)]).bytes)
        case .spake2Verify(let shareV, let confirmV):
            guard let prover, let result = try? prover.finish(shareV: shareV, confirmV: confirmV) else {
                return ResponseAPDU(status: .securityStatusNotSatisfied)
            }
            encryption = PairingEncryption(sharedKey: result.sharedKey)
            return ResponseAPDU(data: BERTLV([(PairingTag.confirmP, result.confirmP)]).bytes)
        case .writeData(let sealed):
            guard let encryption else { return ResponseAPDU(status: .conditionsNotSatisfied) }
            let plain = try encryption.open(sealed, direction: .moduleToDevice, counter: 1)
            for object in try BERTLV(parsing: plain).objects { receivedCertificates[object.tag] = object.value }
            return ResponseAPDU()
        case .getData:
            guard let encryption else { return ResponseAPDU(status: .conditionsNotSatisfied) }
            let plain = BERTLV([(PairingTag.endpointKey, endpointPublicKey), (PairingTag.friendlyName, Array(name.utf8))]).bytes
            let sealed = try encryption.seal(plain, direction: .deviceToModule, counter: 1)
            return ResponseAPDU(data: BERTLV([(PairingTag.encrypted, sealed)]).bytes)
        case .auth0(let vehicleKey, let id):
            vehicleEphemeral = vehicleKey
            transactionID = id
            return ResponseAPDU(data: BERTLV([(PairingTag.deviceEphemeralKey, Array(ephemeral.publicKey.x963Representation))]).bytes)
        case .auth1(let vehicleSignature):
            let deviceEphemeral = Array(ephemeral.publicKey.x963Representation)
            vehicleAuth1 = (vehicleSignature, transactionID + vehicleEphemeral + deviceEphemeral + Array("SpaaK AUTH1 vehicle".utf8))
            let message = transactionID + deviceEphemeral + vehicleEphemeral + Array("SpaaK AUTH1 device".utf8)
            return ResponseAPDU(data: BERTLV([(PairingTag.signature, Array(try endpoint.signature(for: message).derRepresentation))]).bytes)
        }
    }
}
