import E2E
import SpaakCore
import UDS

/// The module's application software behind the UDS server: the values of the DIDs, the
/// routines, and the provisioning state shown in `SPAAK_Status`.
struct ModuleApplication {
    let configuration: ECUConfiguration
    var vin: [UInt8]?
    var securityAttempts = 0

    init(configuration: ECUConfiguration) {
        self.configuration = configuration
        vin = configuration.vin.map { Array($0.utf8) }
    }

    /// No deferred work yet.
    var nextDeadline: Instant? { nil }

    /// Deferred results that are due.
    mutating func handleTimeout(now: Instant) -> [(RequestToken, ApplicationResult)] { [] }

    mutating func persistSecurityAttempts(_ count: Int) { securityAttempts = count }

    /// Executes one validated request; `nil` when the result comes later.
    mutating func execute(_ request: ApplicationRequest, now: Instant) -> ApplicationResult? {
        switch request.operation {
        case .readData(let identifiers):
            var records: [[UInt8]] = []
            for did in identifiers {
                guard let value = read(did) else { return .negative(.conditionsNotCorrect) }
                records.append(value)
            }
            return .dataRecords(records)
        case .writeData:
            return .negative(.conditionsNotCorrect)
        case .routineControl:
            return .negative(.conditionsNotCorrect)
        }
    }

    func read(_ did: UInt16) -> [UInt8]? {
        switch did {
        case 0xF18C: return Array(configuration.serial.utf8)
        case 0xF195: return Array(configuration.softwareVersion.utf8)
        case 0xF190: return vin
        default: return nil
        }
    }

    var statusSignals: SpaakStatusSignals { SpaakStatusSignals() }
}
