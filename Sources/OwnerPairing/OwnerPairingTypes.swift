import CloudProtocol
import SPAKE2Plus
import SpaakCore

/// Timing of owner pairing (ICD 8.2, 8.3).
public struct OwnerPairingConfiguration: Hashable, Sendable {
    /// How long a pairing window stays open (300 s).
    public var windowDuration: Duration
    /// How long the module waits for each response APDU (5 s).
    public var responseTimeout: Duration

    /// Creates a configuration; the defaults are the ICD's.
    public init(windowDuration: Duration = .seconds(300), responseTimeout: Duration = .seconds(5)) {
        self.windowDuration = windowDuration
        self.responseTimeout = responseTimeout
    }
}

/// What the store holds for owner pairing when the module starts, and the conditions to open
/// a window; the glue keeps `conditions` current with `.conditionsChanged`.
public struct OwnerPairingFacts: Hashable, Sendable {
    /// The owner key record: absent, a key, or damaged (then no window opens: a damaged record
    /// may hide an active key; 0x0C or owner change 0xD203 delete it).
    public var ownerKey: StoredOwnerKey
    /// The preconditions of a window besides the key.
    public var conditions: OwnerPairingConditions

    /// Creates the facts.
    public init(ownerKey: StoredOwnerKey, conditions: OwnerPairingConditions) {
        self.ownerKey = ownerKey
        self.conditions = conditions
    }
}

/// The owner key record as read from the store.
public enum StoredOwnerKey: Hashable, Sendable {
    /// No owner key.
    case absent
    /// A key, pending or active.
    case key(OwnerKey)
    /// The record is damaged or unreadable.
    case damaged
}

/// The conditions of ICD 8.2 that the store decides: plant locked, [K] installed.
public struct OwnerPairingConditions: Hashable, Sendable {
    /// Routine 0xD201 locked the plant.
    public var plantLocked: Bool
    /// [K] and its key are installed.
    public var vehicleCertificateInstalled: Bool

    /// Creates the conditions.
    public init(plantLocked: Bool, vehicleCertificateInstalled: Bool) {
        self.plantLocked = plantLocked
        self.vehicleCertificateInstalled = vehicleCertificateInstalled
    }
}

/// Who asks to open the pairing window.
public enum PairingWindowRequester: Hashable, Sendable {
    /// `HU_Request` 0x01 (OP-02).
    case headUnit
    /// An accepted OwnerPairingModeRequest 0x0E (OP-01); the answer 0x0D echoes its id.
    case cloud(transactionID: [UInt8])
}

/// What a phase 2 session needs from the store: the verifier, the VIN (idVerifier) and the
/// certificates that WRITE DATA carries.
public struct PairingMaterial: Hashable, Sendable {
    /// The verifier record (w0, L, salt, scrypt parameters).
    public var verifier: SpakeVerifierRecord
    /// The VIN, 17 ASCII bytes.
    public var vin: [UInt8]
    /// [K], DER.
    public var vehicleCertificate: [UInt8]
    /// [J1], DER.
    public var subCACertificate: [UInt8]

    /// Creates the material.
    public init(verifier: SpakeVerifierRecord, vin: [UInt8], vehicleCertificate: [UInt8], subCACertificate: [UInt8]) {
        self.verifier = verifier
        self.vin = vin
        self.vehicleCertificate = vehicleCertificate
        self.subCACertificate = subCACertificate
    }
}

/// Everything that drives the owner-pairing machine, besides the passing of time.
public enum OwnerPairingInput: Sendable {
    /// Open (or restart) the pairing window.
    case windowRequested(PairingWindowRequester)
    /// `NFC_Status`: a device tapped.
    case sessionStarted
    /// `NFC_Status`: the device left the field, or the reader went silent.
    case sessionEnded(reason: String)
    /// A response APDU arrived on 0x6B8 (its bytes).
    case response([UInt8])
    /// The result of the task the machine asked for.
    case taskCompleted(OwnerPairingTaskResult)
    /// The owner key was deleted by OwnerKeyTermination 0x0C or owner change 0xD203 (the
    /// provisioning glue committed it): the window closes.
    case ownerKeyDeleted(reason: String)
    /// A new verifier was stored (PP-02/PP-03) or the verifier was deleted: a phase 2 session
    /// in progress used the old one and ends (not counted: its verifier is void).
    case verifierChanged
    /// The store conditions of a window changed.
    case conditionsChanged(OwnerPairingConditions)
}

/// Store work the machine asks for; its result is the next input.
public enum OwnerPairingTask: Hashable, Sendable {
    /// Read the verifier (if usable), VIN, [K] and [J1] for a phase 2 session.
    case loadMaterial
    /// In one commit: the owner key as pending, the verifier deleted, the failed-attempt
    /// count reset (ICD 8.3 step 5).
    case storePendingOwnerKey(OwnerKey)
    /// In one commit: the pending key becomes active (if it is still the pending key).
    case activateOwnerKey(OwnerKey)
    /// Delete the owner key if it is still pending (window closed).
    case deletePendingOwnerKey
    /// ECDSA P-256/SHA-256 over `message` with the vehicle identity key, inside the store.
    case signWithVehicleKey([UInt8])
}

/// The result of an `OwnerPairingTask`, one case per task.
public enum OwnerPairingTaskResult: Hashable, Sendable {
    /// `loadMaterial`: `nil` when there is no usable verifier (or [K], [J1], VIN are missing).
    case materialLoaded(PairingMaterial?)
    /// `storePendingOwnerKey` done or failed (nothing changed).
    case pendingOwnerKeyStored(success: Bool)
    /// `activateOwnerKey` done or failed.
    case ownerKeyActivated(success: Bool)
    /// `deletePendingOwnerKey` done or failed (then retried at the next start).
    case pendingOwnerKeyDeleted(success: Bool)
    /// `signWithVehicleKey`: the DER signature, `nil` on failure.
    case signed([UInt8]?)
}

/// What the machine asks the glue to do, in order.
public enum OwnerPairingAction: Hashable, Sendable {
    /// A failed owner-pairing attempt (ICD 8.3): count it in the store before anything else
    /// (the provisioning machine's path: the 8th deletes the verifier, PP-03 reason 2).
    case attemptFailed(reason: String)
    /// Send this command APDU on 0x6B0.
    case sendAPDU([UInt8])
    /// Do this store work and report with `.taskCompleted`.
    case perform(OwnerPairingTask)
    /// A phase 2 session found no verifier: PP-03 with reason 3 (ICD 8.2).
    case verifierMissing
    /// The phase 2 commit deleted the verifier and reset the count (the provisioning facts follow).
    case verifierConsumed
    /// Send OwnerPairingStatus 0x0D.
    case report(OwnerPairingStatusReport)
    /// A line for the log.
    case log(OwnerPairingLogLevel, String)
}

/// Severity of a log line.
public enum OwnerPairingLogLevel: Hashable, Sendable {
    /// A step.
    case info
    /// A failure, a refusal, something ignored.
    case warning
}
