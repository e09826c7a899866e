import Provisioning
import UDS

/// An `ApplicationRequest` of the UDS server in the module's terms: the raw identifiers
/// turned into `DataIdentifier` and `RoutineIdentifier` once, here, and each routine given
/// to the component that owns it. An identifier the module does not know answers NRC 0x31.
enum ModuleRequest: Equatable {
    /// 0x22: read these DIDs, in request order.
    case read([DataIdentifier])
    /// 0x2E: write a plant DID.
    case write(DataIdentifier, [UInt8])
    /// 0x31 for a routine of the plant (`DiagnosticApplication`).
    case plantRoutine(RoutineControlType, PlantRoutine)
    /// 0x31 for a routine that starts cloud work (`VehicleProvisioning`).
    case provisioningRoutine(RoutineControlType, ProvisioningRoutine)

    /// The request, or the NRC for an identifier the module does not know (0x31).
    static func from(_ operation: ApplicationOperation) -> Result<ModuleRequest, NegativeResponseCode> {
        switch operation {
        case .readData(let identifiers):
            var dids: [DataIdentifier] = []
            for identifier in identifiers {
                guard let did = DataIdentifier(rawValue: identifier) else { return .failure(.requestOutOfRange) }
                dids.append(did)
            }
            return .success(.read(dids))
        case .writeData(let identifier, let data):
            guard let did = DataIdentifier(rawValue: identifier) else { return .failure(.requestOutOfRange) }
            return .success(.write(did, data))
        case .routineControl(let type, let identifier, _):
            guard let rid = RoutineIdentifier(rawValue: identifier) else { return .failure(.requestOutOfRange) }
            switch rid {
            case .generateECUIdentityKeyPair: return .success(.plantRoutine(type, .generateECUIdentityKeyPair))
            case .lockPlantProvisioning: return .success(.plantRoutine(type, .lockPlantProvisioning))
            case .checkCertificates: return .success(.plantRoutine(type, .checkCertificates))
            case .ownerChange: return .success(.provisioningRoutine(type, .ownerChange))
            case .simulateOwnerPairingStart: return .success(.provisioningRoutine(type, .ownerPairingStarted))
            case .simulateFailedOwnerPairing: return .success(.provisioningRoutine(type, .ownerPairingFailed))
            }
        }
    }
}

/// The plant's routines (ICD 5.4), run by `DiagnosticApplication`.
enum PlantRoutine: Hashable, Sendable {
    /// 0xD200 (RP-02).
    case generateECUIdentityKeyPair
    /// 0xD201.
    case lockPlantProvisioning
    /// 0xD202.
    case checkCertificates

    /// Its RID.
    var identifier: RoutineIdentifier {
        switch self {
        case .generateECUIdentityKeyPair: return .generateECUIdentityKeyPair
        case .lockPlantProvisioning: return .lockPlantProvisioning
        case .checkCertificates: return .checkCertificates
        }
    }
}

extension ProvisioningRoutine {
    /// Its RID (ICD 5.4).
    var identifier: RoutineIdentifier {
        switch self {
        case .ownerChange: return .ownerChange
        case .ownerPairingStarted: return .simulateOwnerPairingStart
        case .ownerPairingFailed: return .simulateFailedOwnerPairing
        }
    }
}

extension NegativeResponseCode {
    /// The one mapping of a store outcome to UDS (ICD 5.1, 5.5): a refused certificate is
    /// 0x31 requestOutOfRange, a store failure 0x72 generalProgrammingFailure.
    init(_ error: StoreWorkError) {
        switch error {
        case .certificateRefused: self = .requestOutOfRange
        case .storeFailure: self = .generalProgrammingFailure
        }
    }
}

/// The latest result of a routine, as `31 03 RID` returns it (ICD 5.4).
enum RoutineResult: Equatable, Sendable {
    /// 0: done.
    case done
    /// 1: running.
    case running
    /// 2: failed, with an error code (an NRC, or an ICD 7.5 code for a use case).
    case failed(UInt8)

    /// The routine status record: status, then the error code (0 unless failed).
    var record: [UInt8] {
        switch self {
        case .done: return [0x00, 0x00]
        case .running: return [0x01, 0x00]
        case .failed(let code): return [0x02, code]
        }
    }

    /// The answer to a stop or results request (`31 02`, `31 03`) of a routine whose latest
    /// result is `latest`: its status record, NRC 0x24 before its first start, NRC 0x12 for a
    /// stop (no routine of the ICD stops). `nil` for a start: the routine's owner answers it.
    static func answer(to type: RoutineControlType, latest: RoutineResult?) -> ApplicationResult? {
        switch type {
        case .requestRoutineResults:
            guard let latest else { return .negative(.requestSequenceError) }
            return .positive(latest.record)
        case .stopRoutine:
            return .negative(.subFunctionNotSupported)
        case .startRoutine:
            return nil
        }
    }
}
