extension DataIdentifierEntry {
    /// The DIDs of ICD 5.2: all readable in every session; writable (extended session,
    /// unlocked) for the VIN (exactly 17 bytes), the ECU certificate and the five roots.
    /// "Before plant lock" is the application's condition (it answers NRC 0x22).
    public static let icdTable: [DataIdentifierEntry] = {
        let readOnly: [UInt16] = [0xF18C, 0xF195, 0xD100, 0xD120, 0xD121, 0xD122, 0xD123]
        let certificates: [UInt16] = [0xD101, 0xD110, 0xD111, 0xD112, 0xD113, 0xD114]
        return readOnly.map { DataIdentifierEntry($0) }
            + [DataIdentifierEntry(0xF190, write: .extendedUnlocked, writeLength: 17)]
            + certificates.map { DataIdentifierEntry($0, write: .extendedUnlocked) }
    }()
}

extension RoutineEntry {
    /// The routines of ICD 5.4: all in the extended session, with results (0x03), no
    /// stop (so no routine advertises 0x02: NRC 0x12); 0xD200, 0xD201 and 0xD203 need
    /// security access. The ICD gives none of them a routineControlOptionRecord: a start
    /// or results request is exactly `31 type RID` (else NRC 0x13).
    public static let icdTable: [RoutineEntry] = [
        RoutineEntry(0xD200, access: .extendedUnlocked, startOptionLength: 0),
        RoutineEntry(0xD201, access: .extendedUnlocked, startOptionLength: 0),
        RoutineEntry(0xD202, startOptionLength: 0),
        RoutineEntry(0xD203, access: .extendedUnlocked, startOptionLength: 0),
        RoutineEntry(0xF010, startOptionLength: 0),
        RoutineEntry(0xF011, startOptionLength: 0),
    ]
}
