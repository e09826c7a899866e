import SpaakCore

/// Why a set of CAN identifiers cannot be used (checked once, at start).
public enum CANIdentifierError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The identifier does not fit in 11 bits (0x000-0x7FF).
    case notStandard(name: String, id: UInt32, derivedFrom: String?)
    /// Two roles share one identifier: the module could not tell its frames apart.
    case shared(first: String, second: String, id: UInt32)

    /// The operator-facing explanation (names the option to change).
    public var description: String {
        switch self {
        case .notStandard(let name, let id, let derivedFrom):
            let origin = derivedFrom.map { " (derived: \($0))" } ?? ""
            let fix = derivedFrom == nil ? "" : "; give it explicitly with --uds-response-id"
            return "\(name) 0x\(CANFrame.hexText(id))\(origin) is not an 11-bit CAN identifier (0x000-0x7FF)\(fix)"
        case .shared(let first, let second, let id):
            return "\(first) and \(second) are both 0x\(CANFrame.hexText(id)): every role needs its own identifier"
        }
    }
}

extension CANIdentifiers {
    /// The ICD's rule for the UDS response identifier when none is given: request id + 8.
    public static func defaultUDSResponse(forRequest request: UInt32) -> UInt32 { request &+ 8 }

    /// Every identifier with the name of the option that sets it, received ones first.
    public var named: [(name: String, id: UInt32)] {
        [("TBM_Status id (--tbm-status-id)", tbmStatus), ("C2V id (--c2v-id)", c2v),
         ("UDS request id (--uds-request-id)", udsRequest), ("UDS functional id (--uds-functional-id)", udsFunctional),
         ("SPAAK_Status id (--spaak-status-id)", spaakStatus), ("V2C id (--v2c-id)", v2c),
         ("NFC_Status id (--nfc-status-id)", nfcStatus), ("HU_Request id (--hu-request-id)", huRequest),
         ("APDU response id (--apdu-response-id)", apduResponse),
         ("UDS response id (--uds-response-id)", udsResponse), ("APDU command id (--apdu-command-id)", apduCommand)]
    }

    /// Checks the identifiers before the module starts (a pure function): every one fits in
    /// 11 bits, and no two roles share one (received and sent ids alike; the physical and
    /// functional UDS channels share the response id by design, which is one role here).
    ///
    /// - Parameter responseDerived: the response id was derived from the request id (the
    ///   message then says so and names the option that fixes it).
    /// - Throws: the first `CANIdentifierError` found.
    public func validate(responseDerived: Bool = false) throws(CANIdentifierError) {
        for (name, id) in named where id > 0x7FF {
            let derived = responseDerived && id == udsResponse && name.hasPrefix("UDS response")
            throw .notStandard(name: name, id: id,
                               derivedFrom: derived ? "UDS request id 0x\(CANFrame.hexText(udsRequest)) + 8" : nil)
        }
        let all = named
        for (index, first) in all.enumerated() {
            if let second = all[(index + 1)...].first(where: { $0.id == first.id }) {
                throw .shared(first: first.name, second: second.name, id: first.id)
            }
        }
    }

    /// The identifiers given on the command line, checked: the UDS response id is derived
    /// from the request id (`defaultUDSResponse`) when `udsResponse` is `nil`.
    public static func validated(udsRequest: UInt32, udsResponse: UInt32?, udsFunctional: UInt32, tbmStatus: UInt32,
                                 spaakStatus: UInt32, v2c: UInt32, c2v: UInt32, nfcStatus: UInt32 = 0x3B0,
                                 huRequest: UInt32 = 0x3C0, apduCommand: UInt32 = 0x6B0,
                                 apduResponse: UInt32 = 0x6B8) throws(CANIdentifierError) -> CANIdentifiers {
        var ids = CANIdentifiers()
        ids.nfcStatus = nfcStatus
        ids.huRequest = huRequest
        ids.apduCommand = apduCommand
        ids.apduResponse = apduResponse
        ids.udsRequest = udsRequest
        ids.udsResponse = udsResponse ?? defaultUDSResponse(forRequest: udsRequest)
        ids.udsFunctional = udsFunctional
        ids.tbmStatus = tbmStatus
        ids.spaakStatus = spaakStatus
        ids.v2c = v2c
        ids.c2v = c2v
        try ids.validate(responseDerived: udsResponse == nil)
        return ids
    }
}
