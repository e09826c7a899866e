/// The module conditions byte that DID 0xD120 appends after the seven KeyM status bytes when
/// it is not zero (docs/ICD-CHOICES.md): what the module refuses or owes because of its store.
struct ModuleConditions: OptionSet, Sendable, Hashable {
    let rawValue: UInt8

    /// `plant-lock` is damaged or unreadable: the plant writes count as locked.
    static let plantLockDamaged = ModuleConditions(rawValue: 1 << 0)
    /// A store write that a cloud use case owes failed: it is retried every loop turn.
    static let storeWriteOwed = ModuleConditions(rawValue: 1 << 1)
    /// The module-initiated cloud use cases wait for their preconditions.
    static let cloudUseCasesWait = ModuleConditions(rawValue: 1 << 2)
    /// `counter-c2v` is damaged: every C2V message is refused.
    static let c2vCounterDamaged = ModuleConditions(rawValue: 1 << 3)
    /// `counter-v2c` is damaged: no V2C message is sent.
    static let v2cCounterDamaged = ModuleConditions(rawValue: 1 << 4)
    /// `owner-pairing-failures` is damaged: the limit counts as reached.
    static let pairingFailuresDamaged = ModuleConditions(rawValue: 1 << 5)
    /// `pp03-pending` is damaged: PP-03 counts as owed.
    static let pendingVerifierRequestDamaged = ModuleConditions(rawValue: 1 << 6)
    /// Another entry is damaged (a certificate, key, CSR, VIN, drmUUID, subject id or the
    /// verifier): it is not used; the log names it.
    static let otherEntryDamaged = ModuleConditions(rawValue: 1 << 7)

    init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The conditions the store readings decide.
    init(readings: StoreReadings, otherDamage: Bool) {
        var conditions: ModuleConditions = []
        if readings.plantLock.isDamaged { conditions.insert(.plantLockDamaged) }
        if readings.c2vCounter.isDamaged { conditions.insert(.c2vCounterDamaged) }
        if readings.v2cCounter.isDamaged { conditions.insert(.v2cCounterDamaged) }
        if readings.ownerPairingFailures.isDamaged { conditions.insert(.pairingFailuresDamaged) }
        if readings.pendingVerifierRequestDamaged { conditions.insert(.pendingVerifierRequestDamaged) }
        if otherDamage { conditions.insert(.otherEntryDamaged) }
        self = conditions
    }
}
