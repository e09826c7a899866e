import CloudProtocol
import SpaakCore

/// PP-01 (new vehicle identity provisioning) with SP-02 (drmUUID), ICD 7.6 and the seed's
/// steps 1 to 19.
extension ProvisioningMachine {
    /// Steps 1 and 2: SP-02 first without a drmUUID, then [K] unless it is present.
    mutating func startPP01(now: Instant) {
        run = Run(useCase: .pp01, step: .checkingDrmUUID)
        log(.info, "PP-01 started")
        publishStatus()
        if facts.drmUUIDPresent {
            continueAfterDrmUUID(now: now)
        } else {
            run?.useCase = .sp02
            log(.info, "SP-02 started: no drmUUID")
            enter(.drmUUIDRequested)
            request(.remoteServiceProvisioningRequest, answer: .remoteServiceProvisioningResponse, now: now)
        }
    }

    /// Step 2, then step 3 (VehicleSubjectIdRequest) when [K] is missing.
    mutating func continueAfterDrmUUID(now: Instant) {
        run?.useCase = .pp01
        enter(.checkingCertificatePresence)
        if facts.vehicleCertificatePresent {
            enter(.completed)
            finish(.ok, now: now)
            return
        }
        enter(.subjectIDRequested)
        request(.vehicleSubjectIdRequest, answer: .vehicleSubjectIdResponse, now: now)
    }

    /// SP-02: the accepted RemoteServiceProvisioningResponse (0x08).
    mutating func drmUUIDReceived(_ message: ReceivedC2V, now: Instant) {
        guard let drmUUID = message.drmUUID, drmUUID.count == 16 else {
            log(.warning, "0x08 without a 16-byte drmUUID")
            finish(.malformed, now: now)
            return
        }
        enter(.drmUUIDStoring)
        output.append(.perform(.storeDrmUUID(drmUUID)))
    }

    /// SP-02 ends with the drmUUID stored (it has no status message); PP-01 goes on.
    mutating func drmUUIDStored(_ success: Bool, now: Instant) {
        guard success else { return finish(.storeFailure, now: now) }
        facts.drmUUIDPresent = true
        counters.useCasesCompleted += 1
        lastErrorCode = 0
        log(.info, "SP-02 completed")
        output.append(.useCaseEnded(.sp02, .ok))
        continueAfterDrmUUID(now: now)
    }

    /// Step 7: the accepted VehicleSubjectIdResponse (0x02).
    mutating func subjectIDReceived(_ message: ReceivedC2V, now: Instant) {
        guard let subjectID = message.subjectID, Self.isValidSubjectID(subjectID) else {
            log(.warning, "0x02 without a valid subject id")
            finish(.malformed, now: now)
            return
        }
        enter(.subjectIDStoring(subjectID))
        output.append(.perform(.storeSubjectID(subjectID)))
    }

    /// Step 8 after the subject id is stored: a new key pair in the pending slot.
    mutating func subjectIDStored(_ subjectID: String, _ success: Bool, now: Instant) {
        guard success else { return finish(.storeFailure, now: now) }
        enter(.keyPairGenerating(subjectID))
        output.append(.perform(.generateVehicleKeyPair))
    }

    /// Step 9 after the key pair: the CSR with CN = subject id.
    mutating func keyPairGenerated(_ subjectID: String, _ success: Bool, now: Instant) {
        guard success else { return finish(.storeFailure, now: now) }
        enter(.csrMaking)
        output.append(.perform(.makeVehicleCSR(commonName: subjectID)))
    }

    /// Step 10 after the CSR: VehicleIdentityCSRRequest (0x03).
    mutating func csrMade(_ csr: [UInt8]?, now: Instant) {
        guard let csr, !csr.isEmpty else { return finish(.storeFailure, now: now) }
        enter(.certificateRequested)
        request(.vehicleIdentityCSRRequest(csr: csr), answer: .vehicleIdentityCSRResponse, now: now)
    }

    /// Step 14: the accepted VehicleIdentityCSRResponse (0x04); [K] goes to KeyM.
    mutating func certificateReceived(_ message: ReceivedC2V, now: Instant) {
        guard let certificate = message.certificate, !certificate.isEmpty else {
            log(.warning, "0x04 without a certificate")
            return reportCertificateStatus(.malformed, now: now)
        }
        enter(.certificateChecking(certificate))
        output.append(.perform(.checkVehicleCertificate(certificate)))
    }

    /// Step 15 for a [K] that passed; a failing one is reported and never installed.
    mutating func certificateChecked(_ certificate: [UInt8], _ status: CloudStatus, now: Instant) {
        guard status == .ok else {
            log(.warning, "[K] failed its checks with status \(status.rawValue): not installed")
            return reportCertificateStatus(status, now: now)
        }
        enter(.certificateInstalling)
        output.append(.perform(.installVehicleCertificate(certificate)))
    }

    /// Step 16 after the installation (or its failure).
    mutating func certificateInstalled(_ success: Bool, now: Instant) {
        if success {
            facts.vehicleCertificatePresent = true
            log(.info, "[K] installed")
        }
        reportCertificateStatus(success ? .ok : .storeFailure, now: now)
    }

    /// Step 16: VehicleIdentityCertStatus (0x05); the acknowledgement (step 19) ends PP-01,
    /// failed unless `status` is `.ok`.
    mutating func reportCertificateStatus(_ status: CloudStatus, now: Instant) {
        enter(.certificateStatusSent(status))
        request(.vehicleIdentityCertStatus(status), answer: .c2vUsecaseCompletionAck, now: now)
    }

    /// 1 to 64 printable ASCII characters (tag 0x10).
    static func isValidSubjectID(_ subjectID: String) -> Bool {
        let bytes = Array(subjectID.utf8)
        return (1...64).contains(bytes.count) && bytes.allSatisfy { (0x20...0x7E).contains($0) }
    }
}
