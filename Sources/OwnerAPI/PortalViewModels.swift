import CloudSimulator
import Foundation
import OwnerServices

/// Text formats of the portal's pages.
public enum PortalFormat {
    /// `2025-01-02 10:00:00 UTC`.
    public static func date(_ date: Date) -> String {
        let iso = date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt))  // 2025-01-02T10:00:00Z
        return iso.replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: " UTC")
    }

    /// A path segment: every byte but ASCII letters and digits percent-encoded (a VIN is
    /// letters and digits; anything else cannot leave its segment of a form's action path).
    public static func pathSegment(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0xF, radix: 16, uppercase: true)
            }
        }
        return out
    }

    /// `1 certificate` / `2 certificates`.
    static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
}

/// The portal's view of the owner services' answers: what each page shows and how.
public enum PortalViewModel {
    /// A vehicle on the owner's page.
    public static func card(_ vehicle: VehicleView) -> PortalVehicleCard {
        let facts = [
            PortalFact("Plant", "ECU registered", tone: "ok", detail: PortalFormat.date(vehicle.plant.ecuRegisteredAt)),
            PortalFact("drmUUID (SP-02)", vehicle.drmUUID ?? "none yet", tone: vehicle.drmUUID == nil ? "warn" : "neutral"),
            identity(vehicle.vehicleIdentity), verifier(vehicle.verifier), password(vehicle.password),
            ownerKey(vehicle.ownerPairing), lastUseCase(vehicle.lastUseCase),
        ]
        let note = deliveryNote(vehicle)
        return PortalVehicleCard(vin: vehicle.vin ?? "(VIN not reported yet)", pathVIN: PortalFormat.pathSegment(vehicle.vin ?? ""),
                                 serial: vehicle.serial, facts: facts, canDeliver: vehicle.vin != nil && note == nil,
                                 deliveryNote: note)
    }

    /// A vehicle in the hotline's fleet table.
    public static func fleetRow(_ vehicle: VehicleView) -> PortalFleetRow {
        PortalFleetRow(serial: vehicle.serial, vin: vehicle.vin ?? "—", owner: vehicle.owner ?? "—", drmUUID: vehicle.drmUUID ?? "—",
                       identity: identity(vehicle.vehicleIdentity), verifier: verifier(vehicle.verifier),
                       password: password(vehicle.password), ownerKey: ownerKey(vehicle.ownerPairing),
                       lastUseCase: lastUseCase(vehicle.lastUseCase))
    }

    /// A hotline request in a table.
    public static func requestRow(_ request: HotlineRequestView) -> PortalRequestRow {
        let tone: String
        switch request.state {
        case .awaitingAuthorization: tone = "warn"
        case .sent: tone = "ok"
        case .failed: tone = "bad"
        }
        return PortalRequestRow(id: request.id, shortID: String(request.id.prefix(8)), vin: request.vin, agent: request.agent,
                                state: request.state.rawValue, tone: tone, detail: request.failure,
                                createdAt: PortalFormat.date(request.createdAt),
                                authorizedAt: request.authorizedAt.map(PortalFormat.date),
                                messageId: request.messageId, pending: request.state == .awaitingAuthorization)
    }

    /// Why the pairing buttons are not shown, `nil` when they are (the service is provisioned
    /// and the password may still go out by link). The server checks again on the click.
    static func deliveryNote(_ vehicle: VehicleView) -> String? {
        guard vehicle.vin != nil else { return "The vehicle has not reported its VIN to the Vehicle OEM Server yet." }
        switch vehicle.password.state {
        case .available, .linkIssued:
            return vehicle.serviceProvisioned ? nil
                : "The service is not provisioned yet: the vehicle identity [K] and a verifier must be installed in the vehicle."
        case .handedOut: return "The pairing password was handed to your app and awaits the app's confirmation."
        case .delivered: return "The pairing password was delivered; ask for a new verifier to pair another phone."
        case .paired: return "You paired with this password; it has ended."
        case .replaced: return "A newer verifier replaced this pairing password."
        case .withdrawn:
            return "The pairing password was withdrawn when the vehicle changed owner: "
                + "a new verifier must be installed in the vehicle before a password can be delivered."
        case .none: return "There is no pairing password: the vehicle has no current verifier."
        }
    }

    static func identity(_ identity: VehicleView.VehicleIdentity) -> PortalFact {
        let tone: String
        switch identity.state {
        case .installed: tone = "ok"
        case .issued, .none: tone = "warn"
        case .failed: tone = "bad"
        }
        return PortalFact("Vehicle identity [K]", identity.state.rawValue, tone: tone,
                          detail: [PortalFormat.count(identity.certificates, "certificate"), identity.status.map { "status \($0)" }]
                              .compactMap { $0 }.joined(separator: ", "))
    }

    static func verifier(_ verifier: VehicleView.Verifier) -> PortalFact {
        let tone: String
        switch verifier.state {
        case .installed: tone = "ok"
        case .sent, .none: tone = "warn"
        case .failed, .revoked: tone = "bad"
        case .consumed: tone = "neutral"
        }
        return PortalFact("Verifier (SPAKE2+)", verifier.state.rawValue, tone: tone,
                          detail: [PortalFormat.count(verifier.count, "verifier"), verifier.status.map { "status \($0)" }]
                              .compactMap { $0 }.joined(separator: ", "))
    }

    static func password(_ password: VehicleView.Password) -> PortalFact {
        let tone: String
        switch password.state {
        case .available, .paired: tone = "ok"
        case .handedOut, .linkIssued, .none, .withdrawn: tone = "warn"
        case .delivered, .replaced: tone = "neutral"
        }
        let detail = [password.channel.map { "channel \($0.rawValue)" },
                      password.deliveredAt.map { "delivered \(PortalFormat.date($0))" }].compactMap { $0 }
        return PortalFact("Pairing password", password.state.rawValue, tone: tone, detail: detail.joined(separator: ", "))
    }

    static func ownerKey(_ pairing: VehicleView.OwnerPairing) -> PortalFact {
        let tone: String
        switch pairing.state {
        case .ownerKeyActive: tone = "ok"
        case .windowOpen, .ownerKeyPending: tone = "warn"
        case .unknown, .noOwnerKey: tone = "neutral"
        }
        let detail = [pairing.activeOwnerKeyId.map { "key \($0)" },
                      pairing.modeRequestedAt.map { "pairing mode requested \(PortalFormat.date($0))" },
                      pairing.modeAnsweredAt.map { "answered \(PortalFormat.date($0))" }].compactMap { $0 }
        return PortalFact("Owner key", pairing.state.rawValue, tone: tone, detail: detail.joined(separator: ", "))
    }

    static func lastUseCase(_ last: VehicleView.LastUseCase?) -> PortalFact {
        guard let last else { return PortalFact("Last use case", "none", tone: "neutral") }
        let when = "\(last.outcome.rawValue) \(PortalFormat.date(last.at))"
        return PortalFact("Last use case", "\(last.useCase) \(last.message)", tone: last.outcome == .accepted ? "ok" : "bad",
                          detail: last.error.map { "\(when): \($0)" } ?? when)
    }
}
