import CloudProtocol
import SpaakCore

/// What the provisioning machine asks the glue to do, in order.
public enum ProvisioningAction: Hashable, Sendable {
    /// Build, sign and send this V2C message (the glue adds serial, VIN and its V2C counter).
    /// Only emitted while the TBM is online.
    case send(V2CRequest)
    /// Do this store or KeyM work and report with `.taskCompleted` (at most one at a time).
    case perform(ProvisioningTask)
    /// Apply these changes to the store in one atomic commit; no answer expected.
    case persist([ProvisioningStoreOperation])
    /// The use case or step shown in `SPAAK_Status` changed, or its error or attempt count.
    case statusChanged(ProvisioningStatus)
    /// A use case ended: `.ok` when it completed, else the error code.
    case useCaseEnded(UseCase, CloudStatus)
    /// A line for the log.
    case log(ProvisioningLogLevel, String)
    /// An accepted OwnerPairingModeRequest 0x0E: owner pairing decides and answers with
    /// `.ownerPairingReport` (echoing this transaction id).
    case ownerPairingModeRequested(transactionID: [UInt8])
    /// The owner key was deleted in the commit just asked for (0x0C, 0xD203): the window closes.
    case ownerKeyDeleted(reason: String)
    /// The verifier was replaced or deleted: a pairing session using it ends.
    case verifierChanged
}

/// One V2C message to send: give it to `SpaakRequest.build` with serial, VIN, the next V2C
/// counter and the ECU identity signer.
public struct V2CRequest: Hashable, Sendable, CustomStringConvertible {
    /// The use case (tag 0x07).
    public var useCase: UseCase
    /// The transaction id (tag 0x05, 16 bytes): fresh per step, the push's for a reply to a
    /// push, the same on a retry.
    public var transactionID: [UInt8]
    /// The payload; it fixes the message type (tag 0x01).
    public var payload: CloudPayload
    /// 0 for the first sending, then 1, 2, ... for retries and resends.
    public var attempt: Int

    /// Creates a request.
    public init(useCase: UseCase, transactionID: [UInt8], payload: CloudPayload, attempt: Int = 0) {
        self.useCase = useCase
        self.transactionID = transactionID
        self.payload = payload
        self.attempt = attempt
    }

    /// The message type (tag 0x01).
    public var type: CloudMessageType { payload.type }

    /// For example `VehicleIdentityCSRRequest PP-01 txn 0A1B2C3D… attempt 1`.
    public var description: String {
        "\(type) \(useCase) txn \(transactionID.prefix(4).hexString)… attempt \(attempt)"
    }
}

/// Work for the store or KeyM whose result the machine waits for.
public enum ProvisioningTask: Hashable, Sendable {
    /// Write the drmUUID (16 bytes).
    case storeDrmUUID([UInt8])
    /// Write the vehicle identity subject id.
    case storeSubjectID(String)
    /// Generate a new P-256 key pair into the *pending* vehicle identity slot.
    case generateVehicleKeyPair
    /// Make a PKCS#10 CSR for the pending vehicle identity key, subject CN = `commonName`.
    case makeVehicleCSR(commonName: String)
    /// KeyM check of [K]: carries the pending key's public key, chains to [J] via [J1],
    /// keyUsage digitalSignature. Nothing is written.
    case checkVehicleCertificate([UInt8])
    /// In one atomic commit: write [K] and promote the pending vehicle key to active.
    case installVehicleCertificate([UInt8])
    /// In one atomic commit: write the verifier record (tag 0x15 bytes) and apply `alongWith`.
    case storeVerifier(SpakeVerifierRecord, alongWith: [ProvisioningStoreOperation])
}

/// A store change that needs no answer; a list of them is one atomic commit.
public enum ProvisioningStoreOperation: Hashable, Sendable {
    /// Delete [K], the active and pending vehicle identity keys and the subject id.
    case deleteVehicleIdentity
    /// Delete the SPAKE2+ verifier.
    case deleteVerifier
    /// Write the failed owner-pairing attempt count.
    case setFailedPairingAttempts(UInt8)
    /// Write (or with `nil` delete) the owed PP-03 and its reason.
    case setPendingVerifierRequest(PP03Reason?)
    /// Delete the owner key, pending or active (ICD 8.5: 0x0C, 0xD203).
    case deleteOwnerKey
}

/// Severity of a log line.
public enum ProvisioningLogLevel: Hashable, Sendable {
    /// Routine detail.
    case debug
    /// A use case started, progressed, completed.
    case info
    /// Something ignored, retried or failed.
    case warning
}
