import CloudProtocol

/// The module's message that shows a push (C2V from the cloud, not an answer) reached it and
/// was handled (ICD 7.6, 8.5; docs/ICD-CHOICES.md "A push is done when the module answers it"):
///
/// - 0x0A Spake2VerifierProvisioning (PP-02) → 0x0B Spake2VerifierStatus echoing its
///   transaction id;
/// - 0x0E OwnerPairingModeRequest → 0x0D OwnerPairingStatus echoing its transaction id;
/// - 0x0C OwnerKeyTermination → 0x09 Spake2VerifierRequest with reason 1 (owner key
///   termination; a new step, so no transaction id to echo).
///
/// The TBM's `delivered` only says that its ISO-TP transmission finished: the module may still
/// have lost the message (a receiver's N_Cr timeout is not reported to the sender). So a push
/// stays pending until its answer comes.
public struct PushAnswer: Sendable, Equatable {
    /// The vehicle the push is for.
    public let serial: String
    /// The type of the answer.
    public let answerType: CloudMessageType
    /// The transaction id the answer echoes; `nil` when it starts a step of its own.
    public let transactionID: [UInt8]?

    /// What answers the push `bytes` (a message the cloud sent on its own, not an answer to a
    /// request: a PP-03 0x0A answer is not given here); `nil` when they are malformed or of a
    /// type never pushed (0x02, 0x04, 0x06, 0x08, 0x7F): nothing to wait for.
    public init?(push bytes: [UInt8]) {
        guard let message = try? CloudMessageCodec.decode(bytes).message else { return nil }
        switch message.type {
        case .spake2VerifierProvisioning:
            answerType = .spake2VerifierStatus
            transactionID = message.transactionID
        case .ownerPairingModeRequest:
            answerType = .ownerPairingStatus
            transactionID = message.transactionID
        case .ownerKeyTermination:
            answerType = .spake2VerifierRequest
            transactionID = nil
        default:
            return nil
        }
        serial = message.serial
    }

    /// Whether `message` (V2C, authenticated) answers the push.
    public func isAnswered(by message: CloudMessage) -> Bool {
        guard message.serial == serial, message.type == answerType else { return false }
        if let transactionID { return message.transactionID == transactionID }
        if case .spake2VerifierRequest(let reason) = message.payload { return reason == .ownerKeyTermination }
        return false
    }

    /// Whether a V2C message of this type can answer a push (a cheap test before decoding).
    public static func canAnswer(_ type: CloudMessageType?) -> Bool {
        type == .spake2VerifierStatus || type == .ownerPairingStatus || type == .spake2VerifierRequest
    }

    /// The V2C `bytes` decoded when their type can answer a push; `nil` otherwise (no decoding).
    public static func candidate(_ bytes: [UInt8]) -> CloudMessage? {
        guard canAnswer(CloudMessageCodec.peekMessageType(bytes)) else { return nil }
        return try? CloudMessageCodec.decode(bytes).message
    }

    /// The trace texts of a push's life after delivery, shared by `serve` and the VOS service.
    public enum Trace {
        /// The answer came after `sends` sends.
        public static func done(_ answer: CloudMessage, sends: Int) -> String {
            "answered by \(answer.type) after \(sends) send\(sends == 1 ? "" : "s"): done"
        }

        /// No answer within `timeout` of the delivery.
        public static func noAnswer(_ timeout: Duration) -> String {
            "no answer \(Int(timeout.milliseconds / 1000)) s after delivery"
        }

        /// Out of sends.
        public static func givenUp(sends: Int) -> String { "push given up: no answer after \(sends) sends" }
    }
}
