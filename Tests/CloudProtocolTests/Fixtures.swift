import CloudProtocol
import Crypto
import SpaakCore

/// Shared values and helpers for the CloudProtocol tests.
enum Fixtures {
    static let serial = "SPK0000000001"
    static let vin = "VF1AB000000000001"
    static let transactionID: [UInt8] = Array(0xA0...0xAF)
    static let otherTransactionID: [UInt8] = Array(0xB0...0xBF)
    static let drmUUID: [UInt8] = Array(0x10...0x1F)
    static let csr: [UInt8] = [0x30, 0x03, 0x02, 0x01, 0x07]
    static let certificateK: [UInt8] = [0x30, 0x03, 0x02, 0x01, 0x0B]

    /// The ICD 7.6 test vector record.
    static let vectorRecord: SpakeVerifierRecord = {
        // Built from constants; a failure would show up in every test using it.
        (try? SpakeVerifierRecord(
            salt: Array(0...15), n: 4096, r: 8, p: 1,
            w0: [UInt8](hex: "b3e75cb2b47ff7bfcc46187edf15b61103ded2a0d683a18ab3873a71f5704d1b") ?? [],
            l: [UInt8](hex: "0438186240a99f81034d718c162bb8404dcce6e0d1a1414b6ac36288db9a6d8d05d63e4ce303463331668c445773d17d2d3842f2d3bc2d008dfd73ffa79eaae04a") ?? []
        ))!
    }()

    /// One payload for every message type.
    static let payloads: [CloudPayload] = [
        .vehicleSubjectIdRequest,
        .vehicleSubjectIdResponse(subjectID: "CCC-SUBJECT-0001"),
        .vehicleIdentityCSRRequest(csr: csr),
        .vehicleIdentityCSRResponse(certificate: certificateK),
        .vehicleIdentityCertStatus(.chainOfTrustInvalid),
        .c2vUsecaseCompletionAck,
        .remoteServiceProvisioningRequest,
        .remoteServiceProvisioningResponse(drmUUID: drmUUID),
        .spake2VerifierRequest(.verifierDeletedAfterFailedPairings),
        .spake2VerifierProvisioning(vectorRecord),
        .spake2VerifierStatus(.ok),
        .ownerKeyTermination,
        .ownerPairingStatus(state: .ownerKeyActive, ownerKeyID: ownerKeyID, status: .ok),
        .ownerPairingModeRequest,
        .errorResponse(resultCode: 9),
    ]

    /// An owner key id (ICD 8.3: 8 bytes).
    static let ownerKeyID: [UInt8] = [0x5A, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]

    /// The VOS signing key and its (stand-in) certificate; the KTS ([ZZ2]) key.
    static let vosKey = P256.Signing.PrivateKey()
    static let ktsKey = P256.Signing.PrivateKey()
    static let ecuKey = P256.Signing.PrivateKey()
    static let vosCertificate: [UInt8] = [0x30, 0x04, 0x56, 0x4F, 0x53, 0x31]  // "VOS1"
    static let untrustedCertificate: [UInt8] = [0x30, 0x04, 0x45, 0x56, 0x49, 0x4C]  // "EVIL", valid key, fails policy
    static let garbageCertificate: [UInt8] = [0x30, 0x01, 0x00]

    /// A message of `payload` with the default header; C2V types from the VOS get the certificate.
    static func message(_ payload: CloudPayload, vin: String? = Fixtures.vin, counter: UInt32 = 7,
                        transactionID: [UInt8] = Fixtures.transactionID, serial: String = Fixtures.serial) -> CloudMessage {
        CloudMessage(
            serial: serial, vin: vin, transactionID: transactionID, counter: counter, useCase: .pp01,
            payload: payload,
            signerCertificate: payload.type.carriesSignerCertificate ? vosCertificate : nil)
    }

    /// A signed C2V message as the VOS (or, for 0x0C, the KTS) sends it.
    static func c2v(_ payload: CloudPayload, counter: UInt32 = 7, transactionID: [UInt8] = Fixtures.transactionID,
                    serial: String = Fixtures.serial, certificate: [UInt8]? = Fixtures.vosCertificate,
                    key: P256.Signing.PrivateKey? = nil) throws -> [UInt8] {
        let isKTS = payload.type == .ownerKeyTermination
        return try SpaakResponse.build(
            serial: serial, vin: vin, transactionID: transactionID, counter: counter, useCase: .pp01,
            payload: payload, signerCertificate: isKTS ? nil : certificate,
            signer: CloudSigning.signer(key ?? (isKTS ? ktsKey : vosKey)))
    }

    /// A trust that knows the VOS certificate (valid) and the untrusted one (valid key, bad
    /// policy); any other certificate has no key. [ZZ2] is the KTS key unless `zz2Installed` is false.
    static func trust(zz2Installed: Bool = true) -> ClosureSignerTrust {
        ClosureSignerTrust(
            publicKey: { der in
                if der == vosCertificate { return .success(vosKey.publicKey) }
                if der == untrustedCertificate { return .success(vosKey.publicKey) }
                return .failure(SignerTrustFailure("not a P-256 certificate"))
            },
            validate: { der in
                der == vosCertificate ? .success(()) : .failure(SignerTrustFailure("not issued by [Z1]"))
            },
            ownerKeyTerminationKey: {
                zz2Installed ? .success(ktsKey.publicKey) : .failure(SignerTrustFailure("[ZZ2] not installed"))
            })
    }

    /// The TLVs of `bytes` (a well-formed message), for mutation.
    static func elements(_ bytes: [UInt8]) -> [CloudTLV] {
        var out: [CloudTLV] = []
        var offset = 0
        while offset + 3 <= bytes.count {
            let length = Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
            guard offset + 3 + length <= bytes.count else { break }
            out.append(CloudTLV(tag: bytes[offset], value: Array(bytes[(offset + 3)..<(offset + 3 + length)])))
            offset += 3 + length
        }
        return out
    }
}
