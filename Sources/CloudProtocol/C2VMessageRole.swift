/// What an authentic C2V message is to the current step (ICD 7.4 rules 6 and 7).
public enum C2VMessageRole: Sendable, Hashable {
    /// It answers the outstanding request: its type is a response type and it carries the
    /// outstanding transaction id.
    case response
    /// The cloud pushed it unsolicited (PP-02 0x0A, 0x0C), with any transaction id.
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
