extension DataIdentifierEntry {
    /// The DIDs of ICD 5.2 (`DataIdentifier`): all readable in every session; writable
    /// (extended session, unlocked) for the VIN (exactly 17 bytes), the ECU certificate and
    /// the five roots. "Before plant lock" is the application's condition (it answers NRC 0x22).
    public static let icdTable: [DataIdentifierEntry] = DataIdentifier.allCases.map(\.entry)
}

extension DataIdentifier {
    /// The server's table entry of this DID (ICD 5.2: read, write).
    public var entry: DataIdentifierEntry {
        switch self {
        case .ecuSerialNumber, .softwareVersion, .ecuIdentityCSR, .provisioningStatus, .vehicleIdentityCertificate,
             .drmUUID, .spake2VerifierMetadata, .ownerPairingStatus, .ownerEndpointPublicKey, .canBusDiagnostics:
            return DataIdentifierEntry(rawValue)
        case .vin:
            return DataIdentifierEntry(rawValue, write: .extendedUnlocked, writeLength: 17)
        case .ecuIdentityCertificate, .rootJ, .rootJ1, .rootJPhysicalKey, .rootZ1, .rootZZ2:
            return DataIdentifierEntry(rawValue, write: .extendedUnlocked)
        }
    }
}

extension RoutineEntry {
    /// The routines of ICD 5.4 (`RoutineIdentifier`): all in the extended session, with
    /// results (0x03), no stop (so no routine advertises 0x02: NRC 0x12); 0xD200, 0xD201 and
    /// 0xD203 need security access. The ICD gives none of them a routineControlOptionRecord:
    /// a start or results request is exactly `31 type RID` (else NRC 0x13).
    public static let icdTable: [RoutineEntry] = RoutineIdentifier.allCases.map(\.entry)
}

extension RoutineIdentifier {
    /// The server's table entry of this routine (ICD 5.4: "needs").
    public var entry: RoutineEntry {
        switch self {
        case .generateECUIdentityKeyPair, .lockPlantProvisioning, .ownerChange:
            return RoutineEntry(rawValue, access: .extendedUnlocked, startOptionLength: 0)
        case .checkCertificates, .simulateOwnerPairingStart, .simulateFailedOwnerPairing:
            return RoutineEntry(rawValue, startOptionLength: 0)
        }
    }
}
