import CloudProtocol
import Crypto
import Foundation
import SwiftASN1
import TestPKI
import X509

/// The operator's side of the VOS: registration, pushes, the pairing password.
extension VehicleOEMServer {
    /// Registers (or replaces) an ECU from its identity certificate (DER or PEM), as the EOL
    /// tester's batch left it in the PKI output folder. The certificate must be issued by
    /// this PKI's [J1] (signature and issuer name), carry a P-256 key and a CN that is a valid
    /// serial. Returns the serial.
    @discardableResult
    public func registerECU(certificate bytes: [UInt8], date: Date) throws -> String {
        let certificate = try Self.parseCertificate(bytes)
        let j1 = hierarchy[.j1].certificate
        guard certificate.issuer == j1.subject, j1.publicKey.isValidSignature(certificate.signature, for: certificate) else {
            throw VOSCommandError("certificate \(certificate.subject) is not issued by this PKI's [J1]")
        }
        guard P256.Signing.PublicKey(certificate.publicKey) != nil else {
            throw VOSCommandError("certificate \(certificate.subject) does not carry a P-256 key")
        }
        guard let serial = certificate.subject.commonName, TestPKIRegistry.isValidSerial(serial) else {
            throw VOSCommandError("certificate \(certificate.subject) has no valid ECU serial as CN")
        }
        let der = try certificate.derBytes()
        try repository.transaction { store in
            try store.saveECU(ECURecord(serial: serial, certificateDER: der, registeredAt: date))
        }
        return serial
    }

    /// PP-02: a fresh password and verifier for `serial`, pushed in a 0x0A with a new
    /// transaction id (use case PP-02); the module's 0x0B echoes that id.
    public func pushVerifier(serial: String, date: Date) throws -> VOSResult {
        var result = VOSResult()
        let pending = try repository.transaction { store -> VOSResult in
            var pending = VOSResult()
            try requireECU(serial, store: store)
            let transactionID = randomBytes(16)
            let record = try newVerifier(serial: serial, transactionID: transactionID, trigger: .push, store: store, date: date)
            try emit(.spake2VerifierProvisioning(record), serial: serial, transactionID: transactionID, useCase: .pp02,
                     store: store, into: &pending)
            try queueInOutbox(pending, serial: serial, store: store, date: date)
            return pending
        }
        commit(pending, into: &result)
        return result
    }

    /// The KTS terminates the owner key: an OwnerKeyTermination (0x0C) signed with [ZZ2],
    /// new transaction id, use case PP-03, the shared cloud counter. The current verifier
    /// is revoked (the module deletes it and asks for a new one with PP-03) and its pairing
    /// password ends (`replaced`: it can no longer pair; PP-03 brings the next one), and the
    /// owner key the KTS tracks is recorded as terminated (the module deletes it, ICD 8.5).
    public func terminateOwnerKey(serial: String, date: Date) throws -> VOSResult {
        var result = VOSResult()
        let pending = try repository.transaction { store -> VOSResult in
            var pending = VOSResult()
            try requireECU(serial, store: store)
            for var verifier in try store.verifiers(serial: serial) where !verifier.revoked {
                verifier.revoked = true
                try store.updateVerifier(verifier)
            }
            for var password in try store.passwords(serial: serial) where password.endReason == nil {
                password.end(.replaced, date: date)
                try store.savePassword(password)
            }
            let note = try recordTermination(serial: serial, store: store, date: date)
            try emit(.ownerKeyTermination, serial: serial, transactionID: randomBytes(16), useCase: .pp03,
                     store: store, note: note, into: &pending)
            try queueInOutbox(pending, serial: serial, store: store, date: date)
            return pending
        }
        commit(pending, into: &result)
        return result
    }

    /// The operator's delivery (`ctl password SERIAL`): hands out the pairing password of
    /// `serial`'s current verifier once, marking it delivered (channel `operator`; the VOS
    /// forgets it). Refused when there is no current verifier, when the vehicle has not
    /// confirmed installing it (0x0B status 0), when the password is being delivered through
    /// the owner services (handed out to the app, a deep link issued), was delivered or ended.
    public func handOutPassword(serial: String, date: Date) throws -> String {
        try repository.transaction { store in
            try requireECU(serial, store: store)
            guard let verifier = try store.latestVerifier(serial: serial), !verifier.revoked, let id = verifier.id else {
                throw VOSCommandError("no current verifier for \(serial): nothing to hand out")
            }
            guard verifier.status == CloudStatus.ok.rawValue else {
                let state = verifier.status.map { "reported status \($0)" } ?? "not confirmed yet"
                throw VOSCommandError("the verifier of \(serial) is not installed in the vehicle (\(state))")
            }
            guard var password = try store.password(verifierId: id) else {
                throw VOSCommandError("no password stored for the verifier of \(serial)")
            }
            switch password.state {
            case .available: break
            case .handedOut, .linkIssued:
                throw VOSCommandError("delivery channel conflict: the pairing password of \(serial) is being delivered "
                                      + "through the owner services (\(password.state))")
            case .delivered:
                throw VOSCommandError("the pairing password of \(serial) was already delivered (\(password.deliveredAt.map { "\($0)" } ?? "-"))")
            case .withdrawn:
                throw VOSCommandError("\(serial): " + VehicleOEMServer.withdrawnPasswordAdvice(serial: serial))
            case .replaced, .paired, .none:
                throw VOSCommandError("the pairing password of \(serial) has ended (\(password.state))")
            }
            guard let secret = password.password else {
                throw VOSCommandError("no password stored for the verifier of \(serial)")
            }
            password.deliveredAt = date
            password.channel = .operator
            password.password = nil
            try store.savePassword(password)
            return secret
        }
    }

    /// Forgets the last accepted V2C counter of `serial`, so that a module whose store was
    /// wiped (its counter starts again) is heard. The cloud's own C2V counter only grows.
    public func resetCounter(serial: String) throws {
        try repository.transaction { store in
            try requireECU(serial, store: store)
            try store.removeCounter(serial: serial, kind: .v2cAccepted)
        }
    }

    /// The database summary.
    public func summary() throws -> CloudSummary {
        try repository.transaction { try $0.summary() }
    }

    func requireECU(_ serial: String, store: any CloudStore) throws {
        guard try store.ecu(serial: serial) != nil else {
            throw VOSCommandError("unknown ECU \(serial): add ECU ids to the PKI before doing anything")
        }
    }

    /// A certificate from DER or PEM.
    static func parseCertificate(_ bytes: [UInt8]) throws -> Certificate {
        do {
            if String(decoding: bytes.prefix(64), as: UTF8.self).contains("-----BEGIN") {
                return try Certificate(pemEncoded: String(decoding: bytes, as: UTF8.self))
            }
            return try Certificate(derEncoded: bytes)
        } catch {
            throw VOSCommandError("not an X.509 certificate (DER or PEM): \(error)")
        }
    }
}
