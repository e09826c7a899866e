import SpaakCore

/// Which way a cloud message travels (ICD 7.2).
public enum CloudDirection: Sendable, Hashable {
    /// Vehicle to cloud: sent by the module on 0x6A0, signed with the ECU identity key.
    case vehicleToCloud
    /// Cloud to vehicle: received by the module on 0x6A8, verified per ICD 7.4.
    case cloudToVehicle
}

/// The message type, tag 0x01 (ICD 7.2).
public enum CloudMessageType: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// PP-01 step 3, V2C, no payload.
    case vehicleSubjectIdRequest = 0x01
    /// PP-01 step 6, C2V, payload 0x10 subject id.
    case vehicleSubjectIdResponse = 0x02
    /// PP-01 step 10, V2C, payload 0x11 CSR.
    case vehicleIdentityCSRRequest = 0x03
    /// PP-01 step 13, C2V, payload 0x12 certificate [K].
    case vehicleIdentityCSRResponse = 0x04
    /// PP-01 step 16, V2C, payload 0x13 status.
    case vehicleIdentityCertStatus = 0x05
    /// Use-case completion acknowledgement, C2V, no payload.
    case c2vUsecaseCompletionAck = 0x06
    /// SP-02 request, V2C, no payload.
    case remoteServiceProvisioningRequest = 0x07
    /// SP-02 response, C2V, payload 0x14 drmUUID.
    case remoteServiceProvisioningResponse = 0x08
    /// PP-03 request, V2C, payload 0x16 reason.
    case spake2VerifierRequest = 0x09
    /// PP-02 push or PP-03 answer, C2V, payload 0x15 verifier record.
    case spake2VerifierProvisioning = 0x0A
    /// Verifier installation status, V2C, payload 0x13 status.
    case spake2VerifierStatus = 0x0B
    /// Owner key termination from the KTS, C2V, no payload, signed by [ZZ2].
    case ownerKeyTermination = 0x0C
    /// Owner pairing status (ICD 8.5), V2C, payload 0x19 state, 0x18 owner key id (exactly
    /// when the state has a key), 0x13 status.
    case ownerPairingStatus = 0x0D
    /// Owner pairing mode request: open the pairing window (OP-01), C2V push from the VOS,
    /// no payload.
    case ownerPairingModeRequest = 0x0E
    /// Error from the cloud, C2V, payload 0x17 result code.
    case errorResponse = 0x7F

    /// The direction of this type.
    public var direction: CloudDirection {
        switch self {
        case .vehicleSubjectIdRequest, .vehicleIdentityCSRRequest, .vehicleIdentityCertStatus,
             .remoteServiceProvisioningRequest, .spake2VerifierRequest, .spake2VerifierStatus, .ownerPairingStatus:
            return .vehicleToCloud
        case .vehicleSubjectIdResponse, .vehicleIdentityCSRResponse, .c2vUsecaseCompletionAck,
             .remoteServiceProvisioningResponse, .spake2VerifierProvisioning, .ownerKeyTermination,
             .ownerPairingModeRequest, .errorResponse:
            return .cloudToVehicle
        }
    }

    /// The payload tags this type may carry, ascending; all mandatory but those in
    /// `optionalPayloadTags`.
    public var payloadTags: [CloudTag] {
        switch self {
        case .vehicleSubjectIdRequest, .c2vUsecaseCompletionAck, .remoteServiceProvisioningRequest,
             .ownerKeyTermination, .ownerPairingModeRequest:
            return []
        case .vehicleSubjectIdResponse: return [.subjectID]
        case .vehicleIdentityCSRRequest: return [.csr]
        case .vehicleIdentityCSRResponse: return [.certificate]
        case .vehicleIdentityCertStatus, .spake2VerifierStatus: return [.status]
        case .remoteServiceProvisioningResponse: return [.drmUUID]
        case .spake2VerifierRequest: return [.pp03Reason]
        case .spake2VerifierProvisioning: return [.verifierRecord]
        case .ownerPairingStatus: return [.status, .ownerKeyID, .ownerPairingState]
        case .errorResponse: return [.resultCode]
        }
    }

    /// The payload tags that may be absent: the owner key id 0x18 of 0x0D (present exactly
    /// when the state 0x19 has a key, checked with the payload).
    public var optionalPayloadTags: Set<CloudTag> {
        self == .ownerPairingStatus ? [.ownerKeyID] : []
    }

    /// Whether the message carries the signer certificate 0x20: every C2V type from the VOS;
    /// never a V2C type, and never OwnerKeyTermination (signed by the KTS, verified with the
    /// installed [ZZ2] key, so it carries no certificate).
    public var carriesSignerCertificate: Bool {
        direction == .cloudToVehicle && self != .ownerKeyTermination
    }

    /// The ICD name, e.g. `VehicleSubjectIdRequest`.
    public var description: String {
        switch self {
        case .vehicleSubjectIdRequest: return "VehicleSubjectIdRequest"
        case .vehicleSubjectIdResponse: return "VehicleSubjectIdResponse"
        case .vehicleIdentityCSRRequest: return "VehicleIdentityCSRRequest"
        case .vehicleIdentityCSRResponse: return "VehicleIdentityCSRResponse"
        case .vehicleIdentityCertStatus: return "VehicleIdentityCertStatus"
        case .c2vUsecaseCompletionAck: return "C2VUsecaseCompletionAck"
        case .remoteServiceProvisioningRequest: return "RemoteServiceProvisioningRequest"
        case .remoteServiceProvisioningResponse: return "RemoteServiceProvisioningResponse"
        case .spake2VerifierRequest: return "Spake2VerifierRequest"
        case .spake2VerifierProvisioning: return "Spake2VerifierProvisioning"
        case .spake2VerifierStatus: return "Spake2VerifierStatus"
        case .ownerKeyTermination: return "OwnerKeyTermination"
        case .ownerPairingStatus: return "OwnerPairingStatus"
        case .ownerPairingModeRequest: return "OwnerPairingModeRequest"
        case .errorResponse: return "ErrorResponse"
        }
    }
}

/// Status and error codes (ICD 7.5), carried in tag 0x13 and used as verification outcomes.
public enum CloudStatus: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// 0 ok.
    case ok = 0
    /// 1 malformed.
    case malformed = 1
    /// 2 signature invalid.
    case signatureInvalid = 2
    /// 3 chain of trust invalid.
    case chainOfTrustInvalid = 3
    /// 4 certificate does not match the key.
    case certificateKeyMismatch = 4
    /// 5 store failure.
    case storeFailure = 5
    /// 6 timeout.
    case timeout = 6
    /// 7 replayed counter.
    case replayedCounter = 7
    /// 8 unexpected message.
    case unexpectedMessage = 8
    /// 9 rejected by the cloud.
    case rejectedByCloud = 9

    /// The ICD wording of the code.
    public var description: String {
        switch self {
        case .ok: return "ok"
        case .malformed: return "malformed"
        case .signatureInvalid: return "signature invalid"
        case .chainOfTrustInvalid: return "chain of trust invalid"
        case .certificateKeyMismatch: return "certificate does not match the key"
        case .storeFailure: return "store failure"
        case .timeout: return "timeout"
        case .replayedCounter: return "replayed counter"
        case .unexpectedMessage: return "unexpected message"
        case .rejectedByCloud: return "rejected by the cloud"
        }
    }
}

/// Why the module asks for a new SPAKE2+ verifier, tag 0x16 (ICD 7.1, PP-03).
public enum PP03Reason: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// 1 owner key termination (0x0C received).
    case ownerKeyTermination = 1
    /// 2 verifier deleted after the 8th failed owner pairing.
    case verifierDeletedAfterFailedPairings = 2
    /// 3 no verifier at owner pairing.
    case verifierMissingAtPairing = 3

    /// The reason in words.
    public var description: String {
        switch self {
        case .ownerKeyTermination: return "owner key termination"
        case .verifierDeletedAfterFailedPairings: return "verifier deleted after failed pairings"
        case .verifierMissingAtPairing: return "verifier missing at pairing"
        }
    }
}
