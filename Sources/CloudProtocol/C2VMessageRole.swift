/// What an authentic C2V message is to the current step (ICD 7.4 rules 6 and 7).
public enum C2VMessageRole: Sendable, Hashable {
    /// It answers the outstanding request: its type is a response type and it carries the
    /// outstanding transaction id.
    case response
    /// The cloud pushed it unsolicited (PP-02 0x0A, 0x0C, OP-01 0x0E), with any transaction id.
    case push
}

extension C2VExpectation {
    /// The one decision whether a message of `type` with `transactionID` is expected now:
    /// `nil` when it is neither the answer to the outstanding request nor an allowed push.
    /// `C2VVerifier` applies it (rules 6 and 7), the provisioning machine routes by it.
    public func role(of type: CloudMessageType, transactionID: [UInt8]) -> C2VMessageRole? {
        if responseTypes.contains(type), let outstandingTransactionID, transactionID == outstandingTransactionID {
            return .response
        }
        return pushTypes.contains(type) ? .push : nil
    }
}

extension CloudMessageType {
    /// The C2V types the cloud may push with a new transaction id (ICD 7.2, 7.6, 8.5):
    /// Spake2VerifierProvisioning 0x0A (PP-02, from the VOS), OwnerKeyTermination 0x0C
    /// (from the KTS, verified with [ZZ2]) and OwnerPairingModeRequest 0x0E (OP-01, from the
    /// VOS, verified under [Z1] like every VOS message). The module's reply echoes the
    /// push's transaction id. Which of them a step takes is the module's
    /// `C2VExpectation.pushTypes`.
    public static let pushTypes: Set<CloudMessageType> = [.spake2VerifierProvisioning, .ownerKeyTermination,
                                                          .ownerPairingModeRequest]

    /// Whether the cloud may push a message of this type (`pushTypes`).
    public var isPush: Bool { Self.pushTypes.contains(self) }

    /// The C2V type that answers this V2C request (ICD 7.2, 7.6, 8.5), besides an
    /// ErrorResponse 0x7F; `nil` for a C2V type. A status message (0x05, 0x0B, 0x0D) is
    /// answered by C2VUsecaseCompletionAck 0x06.
    public var answerType: CloudMessageType? {
        switch self {
        case .vehicleSubjectIdRequest: return .vehicleSubjectIdResponse
        case .vehicleIdentityCSRRequest: return .vehicleIdentityCSRResponse
        case .remoteServiceProvisioningRequest: return .remoteServiceProvisioningResponse
        case .spake2VerifierRequest: return .spake2VerifierProvisioning
        case .vehicleIdentityCertStatus, .spake2VerifierStatus, .ownerPairingStatus: return .c2vUsecaseCompletionAck
        case .vehicleSubjectIdResponse, .vehicleIdentityCSRResponse, .c2vUsecaseCompletionAck,
             .remoteServiceProvisioningResponse, .spake2VerifierProvisioning, .ownerKeyTermination,
             .ownerPairingModeRequest, .errorResponse:
            return nil
        }
    }
}
