import APDU
import Crypto
import SPAKE2Plus
import SpaakCore

/// The honest owner's device of the `pairing` fuzz target, written from ICD 8.3: it knows the
/// password (the RFC 9383 test vector's w0 and w1, so that the verifier's L matches) and the
/// endpoint key, and answers each command of the profile in order; a command out of order or
/// that it cannot process gets `69 85` or `6A 80`. Its randomness (x, the ephemeral key) is
/// seeded, so that an input replays the same session.
struct PairingFuzzDevice {
    /// RFC 9383 appendix C (P-256): w0, w1 and L = w1·G.
    static let w0 = hexBytes("bb8e1bbcf3c48f62c08db243652ae55d3e5586053fca77102994f23ad95491b3")
    static let w1 = hexBytes("7e945f34d78785b8a3ef44d0df5a1a97d6b3b460409a345ca7830387a74b1dba")
    static let l = hexBytes("04eb7c9db3d9a9eb1f8adab81b5794c1f13ae3e225efbe91ea487425854c7fc00f"
                            + "00bfedcbd09b2400142d40a14f2064ef31dfaa903b91d1faea7093d835966efd")
    /// The endpoint key pair (a fixed scalar): the owner key the module stores.
    static let endpoint = try! P256.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: 0x22, count: 32))
    static let endpointPublicKey = Array(endpoint.publicKey.x963Representation)
    static let friendlyName = Array("fuzz phone".utf8)

    private enum State {
        case idle, selected, shareSent(SPAKE2PlusProver), confirmed(PairingEncryption), written(PairingEncryption)
        case auth0Answered(transactionID: [UInt8], vehicleKey: [UInt8], deviceKey: [UInt8])
    }

    private var state: State = .idle
    private var random: SplitMix64

    init(seed: UInt64) {
        random = SplitMix64(seed: seed)
    }

    /// The device left the field.
    mutating func leaveField() { state = .idle }

    /// The response bytes to one command.
    mutating func respond(to bytes: [UInt8]) -> [UInt8] {
        do {
            let answer = try answer(PairingCommand(apdu: CommandAPDU(bytes: bytes)))
            return answer.bytes
        } catch let refusal as Refusal {
            state = .idle
            return ResponseAPDU(status: refusal.status).bytes
        } catch {
            state = .idle
            return ResponseAPDU(status: .wrongData).bytes
        }
    }

    private mutating func answer(_ command: PairingCommand) throws -> ResponseAPDU {
        switch (command, state) {
        case (.select, _):
            state = .selected
            return ResponseAPDU(data: BERTLV([(PairingTag.versions, PairingCommand.version)]).bytes)
        case (.spake2Request(let parameters), .selected):
            let prover = try SPAKE2PlusProver(identities: .ownerPairing(vin: parameters.vin), w0: Self.w0, w1: Self.w1,
                                              x: P256Scalar.random(using: &random))
            state = .shareSent(prover)
            return ResponseAPDU(data: BERTLV([(PairingTag.shareP, prover.shareP)]).bytes)
        case (.spake2Verify(let shareV, let confirmV), .shareSent(let prover)):
            let result: SPAKE2PlusProverResult
            do {
                result = try prover.finish(shareV: shareV, confirmV: confirmV)
            } catch {
                throw Refusal(status: .securityStatusNotSatisfied)
            }
            state = .confirmed(PairingEncryption(sharedKey: result.sharedKey))
            return ResponseAPDU(data: BERTLV([(PairingTag.confirmP, result.confirmP)]).bytes)
        case (.writeData(let sealed), .confirmed(let encryption)):
            let plaintext = try encryption.open(sealed, direction: .moduleToDevice, counter: 1)
            let tlv = try BERTLV(parsing: plaintext)
            try tlv.requireTags([PairingTag.vehicleCertificate, PairingTag.subCACertificate])
            state = .written(encryption)
            return ResponseAPDU()
        case (.getData, .written(let encryption)):
            let plaintext = BERTLV([(PairingTag.endpointKey, Self.endpointPublicKey), (PairingTag.friendlyName, Self.friendlyName)]).bytes
            state = .idle
            return ResponseAPDU(data: BERTLV([(PairingTag.encrypted, try encryption.seal(plaintext, direction: .deviceToModule, counter: 1))]).bytes)
        case (.auth0(let vehicleKey, let transactionID), .selected):
            let ephemeral = try P256.KeyAgreement.PrivateKey(rawRepresentation: P256Scalar.random(using: &random).bytes)
            let deviceKey = Array(ephemeral.publicKey.x963Representation)
            state = .auth0Answered(transactionID: transactionID, vehicleKey: vehicleKey, deviceKey: deviceKey)
            return ResponseAPDU(data: BERTLV([(PairingTag.deviceEphemeralKey, deviceKey)]).bytes)
        case (.auth1, .auth0Answered(let transactionID, let vehicleKey, let deviceKey)):
            let message = transactionID + deviceKey + vehicleKey + Array("SpaaK AUTH1 device".utf8)
            let signature = Array(try Self.endpoint.signature(for: message).derRepresentation)
            state = .idle
            return ResponseAPDU(data: BERTLV([(PairingTag.signature, signature)]).bytes)
        default:
            throw Refusal(status: .conditionsNotSatisfied)
        }
    }
}

/// A status word the device answers instead of data.
private struct Refusal: Error {
    var status: StatusWord
}

/// Bytes of a hex string (test constants only).
func hexBytes(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        bytes.append(UInt8(text[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}
