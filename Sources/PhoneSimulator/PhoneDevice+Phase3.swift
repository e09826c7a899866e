#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import APDU
import CloudProtocol
import Crypto
import KeyM
import SPAKE2Plus

/// Phase 3 on the device's side (ICD 8.3: AUTH0, AUTH1).
extension PhoneDevice {
    mutating func auth0(vehicleEphemeralKey: [UInt8], transactionID: [UInt8]) -> DeviceAnswer {
        guard configuration.vehicleCertificate != nil else {
            return DeviceAnswer(step: .auth0, status: .conditionsNotSatisfied, note: "AUTH0 but this phone has paired with no vehicle ([K] unknown): 69 85")
        }
        guard (try? P256.KeyAgreement.PublicKey(x963Representation: vehicleEphemeralKey)) != nil else {
            return DeviceAnswer(step: .auth0, status: .wrongData, note: "the vehicle ephemeral key is not a P-256 point: 6A 80")
        }
        let scalar = P256Scalar.random(using: &random)
        // A scalar in [1, n − 1] is a valid private key.
        let ephemeral = try! P256.KeyAgreement.PrivateKey(rawRepresentation: scalar.bytes)
        let deviceKey = Array(ephemeral.publicKey.x963Representation)
        state = .auth0Answered(Auth0Exchange(transactionID: transactionID, vehicleEphemeralKey: vehicleEphemeralKey,
                                             deviceEphemeralKey: deviceKey))
        return DeviceAnswer(step: .auth0, data: BERTLV([(PairingTag.deviceEphemeralKey, deviceKey)]).bytes,
                            note: "transaction \(transactionID.prefix(4).hexText)…, device ephemeral key sent")
    }

    mutating func auth1(vehicleSignature: [UInt8], exchange: Auth0Exchange) -> DeviceAnswer {
        guard let der = configuration.vehicleCertificate,
              let vehicleKey = try? KeyMCertificate(der: der, name: "[K]").publicKey else {
            return DeviceAnswer(step: .auth1, status: .conditionsNotSatisfied, note: "[K] unknown or unreadable: 69 85")
        }
        let signed = exchange.transactionID + exchange.vehicleEphemeralKey + exchange.deviceEphemeralKey + Array("SpaaK AUTH1 vehicle".utf8)
        guard let signature = try? P256.Signing.ECDSASignature(derRepresentation: vehicleSignature),
              vehicleKey.isValidSignature(signature, for: signed) else {
            return DeviceAnswer(step: .auth1, status: .securityStatusNotSatisfied,
                                note: "the vehicle's AUTH1 signature does not verify under [K]: 69 82")
        }
        let message = exchange.transactionID + exchange.deviceEphemeralKey + exchange.vehicleEphemeralKey + Array("SpaaK AUTH1 device".utf8)
        let deviceSignature: [UInt8]
        do {
            deviceSignature = Array(try configuration.endpointKey.signature(for: message).derRepresentation)
        } catch {
            return DeviceAnswer(step: .auth1, status: .wrongData, note: "signing failed: \(error): 6A 80")
        }
        state = .phase3Answered
        var answer = DeviceAnswer(step: .auth1, data: BERTLV([(PairingTag.signature, deviceSignature)]).bytes,
                                  note: "vehicle signature verified under [K], device signature sent")
        answer.completedPhase = .three
        return answer
    }
}
