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

/// Phase 2 on the device's side (ICD 8.3 steps 2-5).
extension PhoneDevice {
    /// The answer from cached secrets, or the derivation to run first.
    mutating func spake2Request(_ parameters: SPAKE2RequestParameters) -> DeviceReply {
        guard let password = configuration.password else {
            return .answer(DeviceAnswer(step: .spake2Request, status: .conditionsNotSatisfied, note: "no pairing password on this phone: 69 85"))
        }
        if let secrets = password.cached(parameters) { return .answer(shareP(parameters, secrets: secrets, cached: true)) }
        do {
            return .derive(try password.job(for: parameters))
        } catch {
            return .answer(DeviceAnswer(step: .spake2Request, status: .wrongData, note: "\(error): 6A 80"))
        }
    }

    /// The SPAKE2+ prover from w0/w1: shareP, the session waits for VERIFY.
    mutating func shareP(_ parameters: SPAKE2RequestParameters, secrets: SpakeVerifierSecrets, cached: Bool) -> DeviceAnswer {
        let prover: SPAKE2PlusProver
        do {
            prover = try SPAKE2PlusProver(identities: .ownerPairing(vin: parameters.vin), w0: secrets.w0, w1: secrets.w1,
                                          x: P256Scalar.random(using: &random))
        } catch {
            return DeviceAnswer(step: .spake2Request, status: .wrongData, note: "SPAKE2+ prover: \(error): 6A 80")
        }
        state = .shareSent(prover)
        let vin = String(decoding: parameters.vin, as: UTF8.self)
        return DeviceAnswer(step: .spake2Request, data: BERTLV([(PairingTag.shareP, prover.shareP)]).bytes,
                            note: "VIN \(vin), scrypt N=\(parameters.n) r=\(parameters.r) p=\(parameters.p): "
                                + "w0/w1 \(cached ? "from the cache" : "derived from the password"), shareP sent")
    }

    mutating func spake2Verify(shareV: [UInt8], confirmV: [UInt8], prover: SPAKE2PlusProver) -> DeviceAnswer {
        let result: SPAKE2PlusProverResult
        do {
            result = try prover.finish(shareV: shareV, confirmV: confirmV)
        } catch .confirmationMismatch {
            return DeviceAnswer(step: .verify, status: .securityStatusNotSatisfied,
                                note: "confirmV does not verify (not the password of this vehicle's verifier): 69 82")
        } catch {
            return DeviceAnswer(step: .verify, status: .wrongData, note: "shareV: \(error): 6A 80")
        }
        state = .confirmed(PairingEncryption(sharedKey: result.sharedKey))
        return DeviceAnswer(step: .verify, data: BERTLV([(PairingTag.confirmP, result.confirmP)]).bytes,
                            note: "confirmV verified, confirmP sent")
    }

    mutating func writeData(_ sealed: [UInt8], encryption: PairingEncryption, date: Date) -> DeviceAnswer {
        let plaintext: [UInt8]
        do {
            plaintext = try encryption.open(sealed, direction: .moduleToDevice, counter: 1)
        } catch {
            return DeviceAnswer(step: .writeData, status: .wrongData, note: "tag 70 does not decrypt: 6A 80")
        }
        let vehicleCertificate: [UInt8]
        let subCA: [UInt8]
        do throws(APDUError) {
            let tlv = try BERTLV(parsing: plaintext)
            try tlv.requireTags([PairingTag.vehicleCertificate, PairingTag.subCACertificate])
            vehicleCertificate = try tlv.value(PairingTag.vehicleCertificate, sizes: 1...65535)
            subCA = try tlv.value(PairingTag.subCACertificate, sizes: 1...65535)
        } catch {
            return DeviceAnswer(step: .writeData, status: .wrongData, note: "decrypted data \(error): 6A 80")
        }
        guard let trust = configuration.trust else {
            return DeviceAnswer(step: .writeData, status: .wrongData, note: "no trusted [J] on this phone: 6A 80")
        }
        let certificate: KeyMCertificate
        do {
            certificate = try trust.check(vehicleCertificate: vehicleCertificate, subCA: subCA, date: date)
        } catch {
            return DeviceAnswer(step: .writeData, status: .wrongData, note: "[K] does not chain to the trusted [J] through [J1] (\(error)): 6A 80")
        }
        state = .certificatesAccepted(encryption, vehicleCertificate: vehicleCertificate)
        return DeviceAnswer(step: .writeData, note: "[K] \(certificate.certificate.subject) chains to [J] through [J1]")
    }

    mutating func getData(encryption: PairingEncryption, vehicleCertificate: [UInt8]) -> DeviceAnswer {
        let name = Array(configuration.friendlyName.utf8)
        let plaintext = BERTLV([(PairingTag.endpointKey, endpointPublicKey), (PairingTag.friendlyName, name)]).bytes
        let sealed: [UInt8]
        do {
            sealed = try encryption.seal(plaintext, direction: .deviceToModule, counter: 1)
        } catch {
            return DeviceAnswer(step: .getData, status: .wrongData, note: "encryption failed: \(error): 6A 80")
        }
        configuration.vehicleCertificate = vehicleCertificate
        state = .phase2Answered
        var answer = DeviceAnswer(step: .getData, data: BERTLV([(PairingTag.encrypted, sealed)]).bytes,
                                  note: "endpoint key \(OwnerKeyID.text(of: endpointPublicKey)) \"\(configuration.friendlyName)\" sent (encrypted)")
        answer.completedPhase = .two
        answer.newVehicleCertificate = vehicleCertificate
        return answer
    }
}
