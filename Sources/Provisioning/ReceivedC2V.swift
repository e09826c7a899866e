import CloudProtocol

/// The parts of an accepted C2V message the use cases read.
struct ReceivedC2V: Sendable {
    /// Tag 0x01.
    var type: CloudMessageType
    /// Tag 0x05.
    var transactionID: [UInt8]
    /// Tag 0x10 of 0x02.
    var subjectID: String?
    /// Tag 0x12 of 0x04.
    var certificate: [UInt8]?
    /// Tag 0x14 of 0x08.
    var drmUUID: [UInt8]?
    /// Tag 0x15 of 0x0A, if it passes ICD 7.6 (N a power of two, w0 in [1, n−1], L on P-256).
    var verifier: SpakeVerifierRecord?
    /// Tag 0x17 of 0x7F.
    var resultCode: UInt8?

    /// Reads a decoded, verified message.
    init(_ message: CloudMessage) {
        type = message.type
        transactionID = message.transactionID
        switch message.payload {
        case .vehicleSubjectIdResponse(let subjectID): self.subjectID = subjectID
        case .vehicleIdentityCSRResponse(let certificate): self.certificate = certificate
        case .remoteServiceProvisioningResponse(let drmUUID): self.drmUUID = drmUUID
        case .spake2VerifierProvisioning(let record): verifier = record.validationStatus == .ok ? record : nil
        case .errorResponse(let resultCode): self.resultCode = resultCode
        default: break
        }
    }
}
