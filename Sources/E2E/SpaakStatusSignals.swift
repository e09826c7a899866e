import SpaakCore

/// Byte 2 of `SPAAK_Status` (ICD section 3): the provisioning flags.
public struct SpaakProvisioningFlags: OptionSet, Hashable, Sendable {
    /// The raw flags byte.
    public var rawValue: UInt8
    /// Creates flags from the raw byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Bit 0: all five root certificates installed.
    public static let allRootCertificatesInstalled = SpaakProvisioningFlags(rawValue: 1 << 0)
    /// Bit 1: ECU identity key and CSR present.
    public static let ecuIdentityKeyAndCSRPresent = SpaakProvisioningFlags(rawValue: 1 << 1)
    /// Bit 2: ECU identity certificate installed.
    public static let ecuIdentityCertificateInstalled = SpaakProvisioningFlags(rawValue: 1 << 2)
    /// Bit 3: plant locked.
    public static let plantLocked = SpaakProvisioningFlags(rawValue: 1 << 3)
    /// Bit 4: drmUUID present.
    public static let drmUUIDPresent = SpaakProvisioningFlags(rawValue: 1 << 4)
    /// Bit 5: vehicle identity certificate [K] installed.
    public static let vehicleIdentityCertificateInstalled = SpaakProvisioningFlags(rawValue: 1 << 5)
    /// Bit 6: SPAKE2+ verifier present.
    public static let spake2PlusVerifierPresent = SpaakProvisioningFlags(rawValue: 1 << 6)
    /// Bit 7: TBM online (the receiver rule of `TBMStatusSupervisor`).
    public static let tbmOnline = SpaakProvisioningFlags(rawValue: 1 << 7)
}

/// The signals of `SPAAK_Status` (CAN id 0x3A8), bytes 2...7.
public struct SpaakStatusSignals: Hashable, Sendable {
    /// Byte 2: provisioning flags.
    public var provisioningFlags: SpaakProvisioningFlags
    /// Byte 3: the active use case (`nil`: none, sent as 0; owner pairing is sent as 0 too,
    /// `UseCase.statusByte`).
    public var activeUseCase: UseCase?
    /// Byte 4: step of the active use case (PP-01: 1...19 as in the seed), 0 when none.
    public var useCaseStep: UInt8
    /// Byte 5: last error code (ICD section 7.5), 0 = none.
    public var lastErrorCode: UInt8
    /// Byte 6: failed owner-pairing attempts since the last verifier provisioning.
    public var failedPairingAttempts: UInt8
    /// Byte 7: owner pairing (ICD 8): 0 no owner key, 1 pairing window open, 2 owner key
    /// pending, 3 owner key active.
    public var ownerPairing: UInt8

    /// Creates the signals (all zero by default).
    public init(
        provisioningFlags: SpaakProvisioningFlags = [],
        activeUseCase: UseCase? = nil,
        useCaseStep: UInt8 = 0,
        lastErrorCode: UInt8 = 0,
        failedPairingAttempts: UInt8 = 0,
        ownerPairing: UInt8 = 0
    ) {
        self.ownerPairing = ownerPairing
        self.provisioningFlags = provisioningFlags
        self.activeUseCase = activeUseCase
        self.useCaseStep = useCaseStep
        self.lastErrorCode = lastErrorCode
        self.failedPairingAttempts = failedPairingAttempts
    }

    /// Bytes 2...7 of the frame.
    public var signalBytes: [UInt8] {
        [provisioningFlags.rawValue, activeUseCase?.statusByte ?? 0, useCaseStep, lastErrorCode, failedPairingAttempts, ownerPairing]
    }

    /// Decodes bytes 2...7 of a whole frame payload (a tester's view); `nil` if the payload
    /// is shorter than 8 bytes or the use case value is unknown.
    public init?(frameData data: [UInt8]) {
        guard data.count >= 8 else { return nil }
        let useCase = UseCase(statusByte: data[3])
        guard useCase != nil || data[3] == 0 else { return nil }
        self.init(
            provisioningFlags: SpaakProvisioningFlags(rawValue: data[2]),
            activeUseCase: useCase,
            useCaseStep: data[4],
            lastErrorCode: data[5],
            failedPairingAttempts: data[6],
            ownerPairing: data[7]
        )
    }
}
