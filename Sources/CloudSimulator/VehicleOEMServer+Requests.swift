import CloudProtocol
import Foundation
import SpaakCore
import TestPKI

/// The VOS's answers to authentic, fresh V2C requests (ICD 7.2, 7.6).
extension VehicleOEMServer {
    /// The decision on one request.
    enum Answer {
        /// Answer with this payload; `summary` goes into the trace.
        case payload(CloudPayload, summary: String)
        /// Answer with an ErrorResponse carrying `status`.
        case refuse(CloudStatus, String)
    }

    /// Decides the answer to `message` and records what it changes.
    func answer(_ message: CloudMessage, store: any CloudStore, date: Date) throws -> Answer {
        let serial = message.serial
        switch message.payload {
        case .vehicleSubjectIdRequest:
            // A retry repeats the transaction id and gets the same subject id back.
            if let issued = try store.subjectIds(serial: serial).last(where: { $0.transactionId == message.transactionID }) {
                return .payload(.vehicleSubjectIdResponse(subjectID: issued.subjectId), summary: "subject id \(issued.subjectId) (again)")
            }
            let subjectId = try newSubjectId(store: store)
            try store.insertSubjectId(SubjectIdRecord(subjectId: subjectId, serial: serial,
                                                      transactionId: message.transactionID, issuedAt: date))
            return .payload(.vehicleSubjectIdResponse(subjectID: subjectId), summary: "subject id \(subjectId)")

        case .vehicleIdentityCSRRequest(let csr):
            guard let subject = try store.latestSubjectId(serial: serial) else {
                return .refuse(.unexpectedMessage, "no subject id issued to \(serial) yet")
            }
            let der: [UInt8]
            do {
                der = try hierarchy.issueVehicleIdentityCertificate(
                    csr: csr, subjectId: subject.subjectId, now: date, validityDays: configuration.certificateValidityDays
                ).derBytes()
            } catch {
                return .refuse(.rejectedByCloud, "CSR refused: \(error)")
            }
            _ = try store.insertCertificate(CertificateRecord(serial: serial, subjectId: subject.subjectId, der: der, issuedAt: date))
            return .payload(.vehicleIdentityCSRResponse(certificate: der), summary: "[K] CN=\(subject.subjectId), \(der.count) bytes")

        case .vehicleIdentityCertStatus(let status):
            guard var certificate = try store.latestCertificate(serial: serial) else {
                return .refuse(.unexpectedMessage, "no [K] issued to \(serial)")
            }
            certificate.installStatus = status.rawValue
            try store.updateCertificate(certificate)
            return .payload(.c2vUsecaseCompletionAck, summary: "[K] \(certificate.subjectId) install status \(status.rawValue) (\(status))")

        case .remoteServiceProvisioningRequest:
            var vehicle = try store.vehicle(serial: serial) ?? VehicleRecord(serial: serial)
            let existing = vehicle.drmUUID != nil
            let drmUUID = vehicle.drmUUID ?? randomBytes(16)
            vehicle.drmUUID = drmUUID
            try store.saveVehicle(vehicle)
            return .payload(.remoteServiceProvisioningResponse(drmUUID: drmUUID),
                            summary: "drmUUID \(drmUUID.hexString)\(existing ? " (already issued)" : "")")

        case .spake2VerifierRequest(let reason):
            if let latest = try store.latestVerifier(serial: serial), !latest.revoked, latest.transactionId == message.transactionID,
               let record = try? SpakeVerifierRecord(bytes: latest.record) {
                return .payload(.spake2VerifierProvisioning(record), summary: "reason \(reason.rawValue) (\(reason)), same verifier again")
            }
            let trigger = VerifierTrigger(rawValue: Int(reason.rawValue)) ?? .missingAtPairing
            let record = try newVerifier(serial: serial, transactionID: message.transactionID, trigger: trigger, store: store, date: date)
            return .payload(.spake2VerifierProvisioning(record), summary: "reason \(reason.rawValue) (\(reason)), \(Self.describe(record))")

        case .spake2VerifierStatus(let status):
            let verifiers = try store.verifiers(serial: serial)
            guard var verifier = verifiers.last(where: { $0.transactionId == message.transactionID })
                    ?? verifiers.last(where: { !$0.revoked }) else {
                return .refuse(.unexpectedMessage, "no verifier outstanding for \(serial)")
            }
            verifier.status = status.rawValue
            try store.updateVerifier(verifier)
            return .payload(.c2vUsecaseCompletionAck, summary: "verifier \(verifier.id ?? 0) status \(status.rawValue) (\(status))")

        case .ownerPairingStatus(let state, let ownerKeyID, let status):
            return try recordOwnerPairing(message, state: state, ownerKeyID: ownerKeyID, status: status, store: store, date: date)

        default:
            return .refuse(.unexpectedMessage, "\(message.type) is not a request the VOS answers")
        }
    }

    /// A subject id not issued before.
    private func newSubjectId(store: any CloudStore) throws -> String {
        for _ in 0..<16 {
            let candidate = VOSRandom.subjectId(randomBytes(8))
            if try !store.subjectIdExists(candidate) { return candidate }
        }
        throw CloudRepositoryError.duplicate("subject id (16 collisions in a row: broken random source?)")
    }

    /// PP-02 / PP-03: a fresh pairing password and its verifier record (scrypt, CCC
    /// derivation of ICD 7.6), taken from `verifierSource` when it has one ready for the
    /// configured N, r, p, else derived now; earlier verifiers of `serial` are revoked and
    /// their passwords end (`replaced`, forgotten; their deep links are no longer valid), the
    /// new password is stored available.
    func newVerifier(serial: String, transactionID: [UInt8], trigger: VerifierTrigger,
                     store: any CloudStore, date: Date) throws -> SpakeVerifierRecord {
        let c = configuration
        let prepared: PreparedVerifier
        if let ready = verifierSource?(), ready.record.n == c.scryptN, ready.record.r == c.scryptR, ready.record.p == c.scryptP {
            prepared = ready
        } else {
            prepared = try Self.makeVerifier(configuration: c, randomBytes: randomBytes)
        }
        for var old in try store.verifiers(serial: serial) where !old.revoked {
            old.revoked = true
            try store.updateVerifier(old)
        }
        for var password in try store.passwords(serial: serial) where password.endReason == nil {
            password.end(.replaced, date: date)
            try store.savePassword(password)
        }
        let id = try store.insertVerifier(VerifierRecord(serial: serial, transactionId: transactionID, record: prepared.record.bytes,
                                                         trigger: trigger, createdAt: date))
        try store.savePassword(PasswordRecord(verifierId: id, serial: serial, password: prepared.password))
        return prepared.record
    }

    /// A fresh pairing password (`passwordDigits` decimal digits) and its verifier record
    /// with a fresh 16-byte salt and the configured scrypt parameters.
    public static func makeVerifier(configuration: VOSConfiguration, randomBytes: (Int) -> [UInt8]) throws -> PreparedVerifier {
        let password = VOSRandom.password(digits: configuration.passwordDigits, source: randomBytes)
        let record = try SpakeVerifierDerivation.record(
            password: Array(password.utf8), salt: randomBytes(16),
            n: configuration.scryptN, r: configuration.scryptR, p: configuration.scryptP)
        return PreparedVerifier(password: password, record: record)
    }

    /// Builds, faults and signs one C2V message and counts it (the cloud's per-vehicle counter).
    /// `note` is added to the trace line's detail.
    func emit(_ payload: CloudPayload, serial: String, transactionID: [UInt8], useCase: UseCase,
              store: any CloudStore, note: String? = nil, into result: inout VOSResult) throws {
        var payload = payload
        var transactionID = transactionID
        let fault = faults.take()
        switch fault {
        case .wrongTransaction?: transactionID = randomBytes(16)
        case .wrongType?: payload = FaultInjector.wrongTypePayload(for: payload, drmUUID: randomBytes(16))
        case .error(let code)?: payload = .errorResponse(resultCode: code)
        default: break
        }
        let vin = try store.vehicle(serial: serial)?.vin
        let isKTS = payload.type == .ownerKeyTermination
        var event = CloudEvent(from: isKTS ? .kts : .vos, to: .spaak, outcome: .queued, direction: "C2V",
                               type: payload.type.rawValue, name: payload.type.description, serial: serial, vin: vin,
                               transaction: transactionID, fault: fault?.description,
                               detail: [Self.describe(payload), note].compactMap { $0 }.joined(separator: "; ").nilIfEmpty)
        if fault == .drop {
            event.outcome = .dropped
            result.events.append(event)
            return
        }
        let counter = (try store.counter(serial: serial, kind: .c2vSent) ?? 0) &+ 1
        try store.setCounter(serial: serial, kind: .c2vSent, value: counter)
        event.counter = counter
        let signer = hierarchy[isKTS ? .zz2 : .vos]
        var bytes = try SpaakResponse.build(
            serial: serial, vin: vin, transactionID: transactionID, counter: counter, useCase: useCase, payload: payload,
            signerCertificate: isKTS ? nil : signer.der, signer: CloudSigning.signer(signer.key))
        var delay: Duration?
        switch fault {
        case .corruptSignature?: bytes = FaultInjector.corruptingSignature(bytes)
        case .delay(let ms)?: delay = .milliseconds(ms)
        case .replay?:
            if let old = lastSent[serial], let decoded = try? CloudMessage.decode(old) {
                bytes = old
                event = Self.event(for: decoded, from: event.from, to: .spaak, outcome: .queued)
                event.fault = fault?.description
                event.detail = "old message replayed instead of \(payload.type) ctr=\(counter)"
            } else {
                event.detail = (event.detail ?? "") + "; nothing sent before to replay, sent as is"
            }
        default: break
        }
        result.events.append(event)
        result.transmissions.append(CloudTransmission(bytes: bytes, delay: delay, event: event))
    }

    /// The payload in a few words for the trace.
    static func describe(_ payload: CloudPayload) -> String? {
        switch payload {
        case .vehicleSubjectIdResponse(let id): return "subject id \(id)"
        case .vehicleIdentityCSRResponse(let der): return "[K] \(der.count) bytes"
        case .remoteServiceProvisioningResponse(let uuid): return "drmUUID \(uuid.hexString)"
        case .spake2VerifierProvisioning(let record): return describe(record)
        case .ownerPairingModeRequest: return "open the pairing window"
        case .ownerPairingStatus(let state, let key, let status):
            return "state \(state.rawValue) (\(state)), owner key \(key?.hexString ?? "-"), status \(status.rawValue)"
        case .errorResponse(let code):
            return "result \(code)" + (CloudStatus(rawValue: code).map { " (\($0))" } ?? "")
        default: return nil
        }
    }

    /// A verifier record's public part for the trace.
    static func describe(_ record: SpakeVerifierRecord) -> String {
        "verifier salt \(record.salt.hexString) N=\(record.n) r=\(record.r) p=\(record.p)"
    }
}

extension String {
    /// `nil` for the empty string.
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
