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
        case .errorResponse: return .errorResponse
        }
    }

    /// The payload TLV value, `nil` for a type without payload.
    var value: [UInt8]? {
        switch self {
        case .vehicleSubjectIdRequest, .c2vUsecaseCompletionAck, .remoteServiceProvisioningRequest,
             .ownerKeyTermination:
            return nil
        case .vehicleSubjectIdResponse(let subjectID): return Array(subjectID.utf8)
        case .vehicleIdentityCSRRequest(let csr): return csr
        case .vehicleIdentityCSRResponse(let certificate): return certificate
        case .vehicleIdentityCertStatus(let status), .spake2VerifierStatus(let status): return [status.rawValue]
        case .remoteServiceProvisioningResponse(let drmUUID): return drmUUID
        case .spake2VerifierRequest(let reason): return [reason.rawValue]
        case .spake2VerifierProvisioning(let record): return record.bytes
        case .errorResponse(let code): return [code]
        }
    }

    /// Parses the payload of `type` from its TLV value (already length- and ASCII-checked),
    /// `nil` value for a type without payload.
    static func parse(type: CloudMessageType, value: [UInt8]?) throws(CloudMessageError) -> CloudPayload {
        guard let tag = type.payloadTag else { return try payloadless(type) }
        guard let value else { throw .missingTag(tag, type: type) }
        switch type {
        case .vehicleSubjectIdResponse:
            return .vehicleSubjectIdResponse(subjectID: String(decoding: value, as: UTF8.self))
        case .vehicleIdentityCSRRequest: return .vehicleIdentityCSRRequest(csr: value)
        case .vehicleIdentityCSRResponse: return .vehicleIdentityCSRResponse(certificate: value)
        case .vehicleIdentityCertStatus: return .vehicleIdentityCertStatus(try status(value[0]))
        case .spake2VerifierStatus: return .spake2VerifierStatus(try status(value[0]))
        case .remoteServiceProvisioningResponse: return .remoteServiceProvisioningResponse(drmUUID: value)
        case .spake2VerifierRequest:
            guard let reason = PP03Reason(rawValue: value[0]) else { throw .unknownPP03Reason(value[0]) }
            return .spake2VerifierRequest(reason)
        case .spake2VerifierProvisioning:
            do {
                return .spake2VerifierProvisioning(try SpakeVerifierRecord(bytes: value))
            } catch {
                throw .wrongLength(.verifierRecord, length: value.count, allowed: CloudTag.verifierRecord.allowedLengths)
            }
        case .errorResponse: return .errorResponse(resultCode: value[0])
        default: return try payloadless(type)
        }
    }

    private static func payloadless(_ type: CloudMessageType) throws(CloudMessageError) -> CloudPayload {
        switch type {
        case .vehicleSubjectIdRequest: return .vehicleSubjectIdRequest
        case .c2vUsecaseCompletionAck: return .c2vUsecaseCompletionAck
        case .remoteServiceProvisioningRequest: return .remoteServiceProvisioningRequest
        case .ownerKeyTermination: return .ownerKeyTermination
        default: throw .unknownMessageType(type.rawValue)  // unreachable: every other type has a payload tag
        }
    }

    private static func status(_ byte: UInt8) throws(CloudMessageError) -> CloudStatus {
        guard let status = CloudStatus(rawValue: byte) else { throw .unknownStatus(byte) }
        return status
    }
}
