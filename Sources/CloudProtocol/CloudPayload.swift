/// The payload of a cloud message, one case per message type (ICD 7.2); the message type
/// follows from the case, so type and payload can never disagree.
public enum CloudPayload: Sendable, Hashable {
    /// 0x01 VehicleSubjectIdRequest.
    case vehicleSubjectIdRequest
    /// 0x02 VehicleSubjectIdResponse: the subject id (ASCII, 1…64).
    case vehicleSubjectIdResponse(subjectID: String)
    /// 0x03 VehicleIdentityCSRRequest: the PKCS#10 CSR, DER.
    case vehicleIdentityCSRRequest(csr: [UInt8])
    /// 0x04 VehicleIdentityCSRResponse: the vehicle identity certificate [K], DER.
    case vehicleIdentityCSRResponse(certificate: [UInt8])
    /// 0x05 VehicleIdentityCertStatus: the installation status.
    case vehicleIdentityCertStatus(CloudStatus)
    /// 0x06 C2VUsecaseCompletionAck.
    case c2vUsecaseCompletionAck
    /// 0x07 RemoteServiceProvisioningRequest (SP-02).
    case remoteServiceProvisioningRequest
    /// 0x08 RemoteServiceProvisioningResponse: the drmUUID, 16 bytes.
    case remoteServiceProvisioningResponse(drmUUID: [UInt8])
    /// 0x09 Spake2VerifierRequest (PP-03): the reason.
    case spake2VerifierRequest(PP03Reason)
    /// 0x0A Spake2VerifierProvisioning: the verifier record.
    case spake2VerifierProvisioning(SpakeVerifierRecord)
    /// 0x0B Spake2VerifierStatus: the installation status.
    case spake2VerifierStatus(CloudStatus)
    /// 0x0C OwnerKeyTermination.
    case ownerKeyTermination
    /// 0x0D OwnerPairingStatus (ICD 8.5): the state after the request was handled, the
    /// owner key id (8 bytes, exactly when `state.hasOwnerKey`), the status.
    case ownerPairingStatus(state: OwnerPairingState, ownerKeyID: [UInt8]?, status: CloudStatus)
    /// 0x0E OwnerPairingModeRequest: open the pairing window (OP-01).
    case ownerPairingModeRequest
    /// 0x7F ErrorResponse: the cloud's result code (0 ok; any byte is carried as is).
    case errorResponse(resultCode: UInt8)

    /// The message type of this payload.
    public var type: CloudMessageType {
        switch self {
        case .vehicleSubjectIdRequest: return .vehicleSubjectIdRequest
        case .vehicleSubjectIdResponse: return .vehicleSubjectIdResponse
        case .vehicleIdentityCSRRequest: return .vehicleIdentityCSRRequest
        case .vehicleIdentityCSRResponse: return .vehicleIdentityCSRResponse
        case .vehicleIdentityCertStatus: return .vehicleIdentityCertStatus
        case .c2vUsecaseCompletionAck: return .c2vUsecaseCompletionAck
        case .remoteServiceProvisioningRequest: return .remoteServiceProvisioningRequest
        case .remoteServiceProvisioningResponse: return .remoteServiceProvisioningResponse
        case .spake2VerifierRequest: return .spake2VerifierRequest
        case .spake2VerifierProvisioning: return .spake2VerifierProvisioning
        case .spake2VerifierStatus: return .spake2VerifierStatus
        case .ownerKeyTermination: return .ownerKeyTermination
        case .ownerPairingStatus: return .ownerPairingStatus
        case .ownerPairingModeRequest: return .ownerPairingModeRequest
        case .errorResponse: return .errorResponse
        }
    }

    /// The payload TLVs in ascending tag order, none for a type without payload. The values
    /// are checked by the encoder (`CloudMessageCodec.checkValue`, then `checkConsistency`).
    var elements: [CloudTLV] {
        switch self {
        case .vehicleSubjectIdRequest, .c2vUsecaseCompletionAck, .remoteServiceProvisioningRequest,
             .ownerKeyTermination, .ownerPairingModeRequest:
            return []
        case .vehicleSubjectIdResponse(let subjectID): return [CloudTLV(.subjectID, Array(subjectID.utf8))]
        case .vehicleIdentityCSRRequest(let csr): return [CloudTLV(.csr, csr)]
        case .vehicleIdentityCSRResponse(let certificate): return [CloudTLV(.certificate, certificate)]
        case .vehicleIdentityCertStatus(let status), .spake2VerifierStatus(let status):
            return [CloudTLV(.status, [status.rawValue])]
        case .remoteServiceProvisioningResponse(let drmUUID): return [CloudTLV(.drmUUID, drmUUID)]
        case .spake2VerifierRequest(let reason): return [CloudTLV(.pp03Reason, [reason.rawValue])]
        case .spake2VerifierProvisioning(let record): return [CloudTLV(.verifierRecord, record.bytes)]
        case .ownerPairingStatus(let state, let ownerKeyID, let status):
            return [CloudTLV(.status, [status.rawValue])]
                + (ownerKeyID.map { [CloudTLV(.ownerKeyID, $0)] } ?? [])
                + [CloudTLV(.ownerPairingState, [state.rawValue])]
        case .errorResponse(let code): return [CloudTLV(.resultCode, [code])]
        }
    }

    /// Checks what spans fields: a 0x0D carries the owner key id exactly when its state has
    /// a key (2 pending, 3 active). Shared by the encoder and the decoder.
    func checkConsistency() throws(CloudMessageError) {
        if case .ownerPairingStatus(let state, let ownerKeyID, _) = self, state.hasOwnerKey != (ownerKeyID != nil) {
            throw .ownerKeyIDMismatch(state: state, present: ownerKeyID != nil)
        }
    }

    /// Parses the payload of `type` from the message's fields (each already length- and
    /// ASCII-checked, the type's mandatory tags present, no tag the type does not allow).
    static func parse(type: CloudMessageType, fields: [CloudTag: [UInt8]]) throws(CloudMessageError) -> CloudPayload {
        func field(_ tag: CloudTag) throws(CloudMessageError) -> [UInt8] {
            guard let value = fields[tag] else { throw .missingTag(tag, type: type) }
            return value
        }
        let payload: CloudPayload
        switch type {
        case .vehicleSubjectIdRequest, .c2vUsecaseCompletionAck, .remoteServiceProvisioningRequest,
             .ownerKeyTermination, .ownerPairingModeRequest:
            return try payloadless(type)
        case .vehicleSubjectIdResponse:
            return .vehicleSubjectIdResponse(subjectID: String(decoding: try field(.subjectID), as: UTF8.self))
        case .vehicleIdentityCSRRequest: return .vehicleIdentityCSRRequest(csr: try field(.csr))
        case .vehicleIdentityCSRResponse: return .vehicleIdentityCSRResponse(certificate: try field(.certificate))
        case .vehicleIdentityCertStatus: return .vehicleIdentityCertStatus(try status(try field(.status)[0]))
        case .spake2VerifierStatus: return .spake2VerifierStatus(try status(try field(.status)[0]))
        case .remoteServiceProvisioningResponse: return .remoteServiceProvisioningResponse(drmUUID: try field(.drmUUID))
        case .spake2VerifierRequest:
            let byte = try field(.pp03Reason)[0]
            guard let reason = PP03Reason(rawValue: byte) else { throw .unknownPP03Reason(byte) }
            return .spake2VerifierRequest(reason)
        case .spake2VerifierProvisioning:
            let value = try field(.verifierRecord)
            do {
                return .spake2VerifierProvisioning(try SpakeVerifierRecord(bytes: value))
            } catch {
                throw .wrongLength(.verifierRecord, length: value.count, allowed: CloudTag.verifierRecord.allowedLengths)
            }
        case .ownerPairingStatus:
            let byte = try field(.ownerPairingState)[0]
            guard let state = OwnerPairingState(rawValue: byte) else { throw .unknownOwnerPairingState(byte) }
            payload = .ownerPairingStatus(state: state, ownerKeyID: fields[.ownerKeyID],
                                          status: try status(try field(.status)[0]))
        case .errorResponse: return .errorResponse(resultCode: try field(.resultCode)[0])
        }
        try payload.checkConsistency()
        return payload
    }

    private static func payloadless(_ type: CloudMessageType) throws(CloudMessageError) -> CloudPayload {
        switch type {
        case .vehicleSubjectIdRequest: return .vehicleSubjectIdRequest
        case .c2vUsecaseCompletionAck: return .c2vUsecaseCompletionAck
        case .remoteServiceProvisioningRequest: return .remoteServiceProvisioningRequest
        case .ownerKeyTermination: return .ownerKeyTermination
        case .ownerPairingModeRequest: return .ownerPairingModeRequest
        default: throw .unknownMessageType(type.rawValue)  // unreachable: every other type has a payload tag
        }
    }

    private static func status(_ byte: UInt8) throws(CloudMessageError) -> CloudStatus {
        guard let status = CloudStatus(rawValue: byte) else { throw .unknownStatus(byte) }
        return status
    }
}
