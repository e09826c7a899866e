import CloudProtocol
import Provisioning
import SpaakCore

/// A secure store reduced to what the use cases touch. Keys are small numbers; a fake CSR
/// is `[0x30, key] + CN`, a fake [K] `[0x30, 0x01, key]` (`[0x31, …]` fails its chain).
struct FakeStore: Equatable {
    var drmUUID: [UInt8]?
    var subjectID: String?
    var activeKey: UInt8?
    var pendingKey: UInt8?
    var certificate: [UInt8]?
    var verifier: SpakeVerifierRecord?
    var attempts: UInt8 = 0
    var pendingReason: PP03Reason?
    /// Whether an owner key is stored (only deleted here: owner pairing writes it).
    var ownerKeyPresent = false
    var nextKey: UInt8 = 1
    /// Task kinds that fail.
    var failing: Set<String> = []

    /// What a restarted module reads.
    var facts: ProvisioningFacts {
        ProvisioningFacts(drmUUIDPresent: drmUUID != nil, vehicleCertificatePresent: certificate != nil,
                          verifierPresent: verifier != nil, failedPairingAttempts: attempts,
                          pendingVerifierRequest: pendingReason)
    }

    /// The invariant of ICD 6 / 7.6: a present [K] carries the active key.
    var identityConsistent: Bool {
        guard let certificate else { return true }
        return certificate.count == 3 && certificate[2] == activeKey
    }

    /// Executes a task like the glue would (store and KeyM) and gives its result.
    mutating func execute(_ task: ProvisioningTask) -> ProvisioningTaskResult {
        switch task {
        case .storeDrmUUID(let value):
            if failing.contains("drm") { return .drmUUIDStored(success: false) }
            drmUUID = value
            return .drmUUIDStored(success: true)
        case .storeSubjectID(let value):
            if failing.contains("subject") { return .subjectIDStored(success: false) }
            subjectID = value
            return .subjectIDStored(success: true)
        case .generateVehicleKeyPair:
            if failing.contains("key") { return .vehicleKeyPairGenerated(success: false) }
            pendingKey = nextKey
            nextKey &+= 1
            return .vehicleKeyPairGenerated(success: true)
        case .makeVehicleCSR(let commonName):
            guard let pendingKey, !failing.contains("csr") else { return .vehicleCSRMade(nil) }
            return .vehicleCSRMade([0x30, pendingKey] + Array(commonName.utf8))
        case .checkVehicleCertificate(let der):
            guard der.count == 3 else { return .vehicleCertificateChecked(.malformed) }
            guard der[0] == 0x30 else { return .vehicleCertificateChecked(.chainOfTrustInvalid) }
            guard der[2] == pendingKey else { return .vehicleCertificateChecked(.certificateKeyMismatch) }
            return .vehicleCertificateChecked(.ok)
        case .installVehicleCertificate(let der):
            guard let pendingKey, !failing.contains("install") else { return .vehicleCertificateInstalled(success: false) }
            certificate = der
            activeKey = pendingKey
            self.pendingKey = nil
            return .vehicleCertificateInstalled(success: true)
        case .storeVerifier(let record, let alongWith):
            if failing.contains("verifier") { return .verifierStored(success: false) }
            verifier = record
            apply(alongWith)
            return .verifierStored(success: true)
        }
    }

    /// Applies one atomic commit.
    mutating func apply(_ operations: [ProvisioningStoreOperation]) {
        for operation in operations {
            switch operation {
            case .deleteVehicleIdentity:
                certificate = nil
                activeKey = nil
                pendingKey = nil
                subjectID = nil
            case .deleteVerifier: verifier = nil
            case .setFailedPairingAttempts(let count): attempts = count
            case .setPendingVerifierRequest(let reason): pendingReason = reason
            case .deleteOwnerKey: ownerKeyPresent = false
            }
        }
    }
}

/// Verifier records: the ICD 7.6 test vector and an invalid one.
enum Records {
    /// password `0123456789012`, salt 00…0f, N 4096, r 8, p 1 (ICD 7.6).
    static let valid = try! SpakeVerifierRecord(
        salt: Array(0...15), n: 4096, r: 8, p: 1,
        w0: [UInt8](hex: "b3e75cb2b47ff7bfcc46187edf15b61103ded2a0d683a18ab3873a71f5704d1b")!,
        l: [UInt8](hex: "0438186240a99f81034d718c162bb8404dcce6e0d1a1414b6ac36288db9a6d8d05d63e4ce303463331668c445773d17d2d3842f2d3bc2d008dfd73ffa79eaae04a")!)
    /// The same with N = 4095, not a power of two.
    static let invalid = try! SpakeVerifierRecord(salt: valid.salt, n: 4095, r: 8, p: 1, w0: valid.w0, l: valid.l)
    /// Another valid record (other salt).
    static let other = try! SpakeVerifierRecord(salt: Array(repeating: 7, count: 16), n: 4096, r: 8, p: 1,
                                                w0: valid.w0, l: valid.l)
}
