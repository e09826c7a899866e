import CloudProtocol
import SpaakCore

/// What the secure store holds that the use cases depend on: the machine is built from it
/// after a start or restart, and keeps it up to date from then on.
public struct ProvisioningFacts: Hashable, Sendable {
    /// A drmUUID is stored (SP-02 done).
    public var drmUUIDPresent: Bool
    /// A vehicle identity certificate [K] is installed (with its key).
    public var vehicleCertificatePresent: Bool
    /// A SPAKE2+ verifier is stored.
    public var verifierPresent: Bool
    /// Failed owner-pairing attempts since the last verifier provisioning.
    public var failedPairingAttempts: UInt8
    /// A PP-03 that is owed (its trigger happened, no verifier has been stored since).
    public var pendingVerifierRequest: PP03Reason?
    /// What the module-initiated use cases still lack before one may start (ECU identity key
    /// and certificate, plant lock, readable message counters), in words; empty when they may.
    /// The glue decides it from the store and updates it with `.preconditionsChanged`.
    public var missingPreconditions: [String]

    /// Creates the facts (a new module: nothing stored).
    public init(drmUUIDPresent: Bool = false, vehicleCertificatePresent: Bool = false, verifierPresent: Bool = false,
                failedPairingAttempts: UInt8 = 0, pendingVerifierRequest: PP03Reason? = nil,
                missingPreconditions: [String] = []) {
        self.drmUUIDPresent = drmUUIDPresent
        self.vehicleCertificatePresent = vehicleCertificatePresent
        self.verifierPresent = verifierPresent
        self.failedPairingAttempts = failedPairingAttempts
        self.pendingVerifierRequest = pendingVerifierRequest
        self.missingPreconditions = missingPreconditions
    }
}

/// What the cloud use cases show in `SPAAK_Status` (the module maps it to bytes 3 to 6;
/// the machine does not know the frame's layout).
public struct ProvisioningStatus: Hashable, Sendable, CustomStringConvertible {
    /// The running use case (`nil`: none).
    public var activeUseCase: UseCase?
    /// Its step: PP-01 the seed's step 1...19; SP-02 1 request, 2 store; PP-02 1 store,
    /// 2 status sent; PP-03 1 request, 2 store, 3 status sent. 0 when none runs.
    public var step: UInt8
    /// The last error code (ICD 7.5): set by a failed use case or a rejected C2V message,
    /// cleared by a use case that completes. 0: none.
    public var lastErrorCode: UInt8
    /// Failed owner-pairing attempts since the last verifier provisioning.
    public var failedPairingAttempts: UInt8

    /// Creates a status.
    public init(activeUseCase: UseCase? = nil, step: UInt8 = 0, lastErrorCode: UInt8 = 0,
                failedPairingAttempts: UInt8 = 0) {
        self.activeUseCase = activeUseCase
        self.step = step
        self.lastErrorCode = lastErrorCode
        self.failedPairingAttempts = failedPairingAttempts
    }

    /// For example `PP-01 step 10, error 0, attempts 0`.
    public var description: String {
        "\(activeUseCase.map { "\($0)" } ?? "idle") step \(step), error \(lastErrorCode), attempts \(failedPairingAttempts)"
    }
}

/// Timing and limits of the use cases (ICD 7.4, 5.4).
public struct ProvisioningConfiguration: Hashable, Sendable {
    /// Wait for an answer before a request is sent again (5 s).
    public var retryInterval: Duration
    /// How many times a request is sent again before the use case fails (3).
    public var maximumRetries: Int
    /// Delay before a failed module-initiated use case starts over (60 s), unless the TBM
    /// comes online again first.
    public var restartDelay: Duration
    /// The failed owner pairing that deletes the verifier (the 8th).
    public var failedPairingLimit: UInt8

    /// Creates a configuration; the defaults are the ICD's.
    public init(retryInterval: Duration = .seconds(5), maximumRetries: Int = 3, restartDelay: Duration = .seconds(60),
                failedPairingLimit: UInt8 = 8) {
        self.retryInterval = retryInterval
        self.maximumRetries = maximumRetries
        self.restartDelay = restartDelay
        self.failedPairingLimit = failedPairingLimit
    }
}

/// Diagnostic counters of the machine; they only ever grow.
public struct ProvisioningCounters: Hashable, Sendable {
    /// V2C messages handed out, retries included.
    public var messagesSent = 0
    /// Of those, retries (same transaction id and payload).
    public var retransmissions = 0
    /// C2V messages taken as an answer or a push.
    public var messagesAccepted = 0
    /// C2V messages the glue's verification rejected (ICD 7.4).
    public var messagesRejected = 0
    /// Accepted C2V messages that fitted no current expectation (ignored).
    public var messagesIgnored = 0
    /// Use cases that completed.
    public var useCasesCompleted = 0
    /// Use cases that failed.
    public var useCasesFailed = 0

    /// All zero.
    public init() {}
}
