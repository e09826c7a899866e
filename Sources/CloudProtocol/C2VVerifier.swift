import Crypto
import SpaakCore

/// The rules of ICD 7.4, in the order they are checked.
public enum C2VRule: Int, Sendable, Hashable, CaseIterable, Comparable, CustomStringConvertible {
    /// 1. The bytes are a well-formed C2V message (ICD 7.1, 7.2).
    case wellFormed = 1
    /// 2. The signature is valid under the signer certificate ([ZZ2] for OwnerKeyTermination).
    case signature
    /// 3. The signer certificate chains to [Z1], is within its validity, has digitalSignature
    ///    (for OwnerKeyTermination: [ZZ2] is installed and valid).
    case signerCertificate
    /// 4. The ECU serial is this module's.
    case ecuSerial
    /// 5. The counter is greater than the last accepted C2V counter.
    case counter
    /// 6. A response carries the transaction id of the outstanding request.
    case transactionID
    /// 7. The type is one the current step expects.
    case messageType

    /// The ICD 7.5 code a failure of this rule maps to. Wrong serial, wrong transaction id
    /// and wrong type are all "unexpected message" (8): authentic, but not for this step.
    public var status: CloudStatus {
        switch self {
        case .wellFormed: return .malformed
        case .signature: return .signatureInvalid
        case .signerCertificate: return .chainOfTrustInvalid
        case .counter: return .replayedCounter
        case .ecuSerial, .transactionID, .messageType: return .unexpectedMessage
        }
    }

    /// Orders rules as ICD 7.4 checks them.
    public static func < (a: C2VRule, b: C2VRule) -> Bool { a.rawValue < b.rawValue }

    /// The rule's name.
    public var description: String {
        switch self {
        case .wellFormed: return "well-formed"
        case .signature: return "signature"
        case .signerCertificate: return "signer certificate"
        case .ecuSerial: return "ECU serial"
        case .counter: return "counter"
        case .transactionID: return "transaction id"
        case .messageType: return "message type"
        }
    }
}

/// What the current step of the module waits for.
public struct C2VExpectation: Sendable, Hashable {
    /// Types that answer the outstanding request (include `.errorResponse` to take the
    /// cloud's error for this step); they must carry `outstandingTransactionID`.
    public var responseTypes: Set<CloudMessageType>
    /// The transaction id of the request awaiting an answer, `nil` when none.
    public var outstandingTransactionID: [UInt8]?
    /// Types the cloud may push unsolicited with a new transaction id (PP-02 0x0A, 0x0C,
    /// OP-01 0x0E; `CloudMessageType.pushTypes` lists them all).
    public var pushTypes: Set<CloudMessageType>

    /// Creates an expectation.
    public init(responseTypes: Set<CloudMessageType>, outstandingTransactionID: [UInt8]?, pushTypes: Set<CloudMessageType>) {
        self.responseTypes = responseTypes
        self.outstandingTransactionID = outstandingTransactionID
        self.pushTypes = pushTypes
    }

    /// No request outstanding: only `pushTypes` are accepted.
    public static func idle(pushTypes: Set<CloudMessageType>) -> C2VExpectation {
        C2VExpectation(responseTypes: [], outstandingTransactionID: nil, pushTypes: pushTypes)
    }
}

/// The outcome of verifying a C2V message.
public enum C2VVerdict: Sendable, Hashable {
    /// Every rule held: the message may be acted on.
    case accepted(CloudMessage)
    /// The first rule that failed, its ICD 7.5 code and the reason for the log.
    case rejected(C2VRule, CloudStatus, String)

    /// The accepted message, `nil` when rejected.
    public var message: CloudMessage? {
        if case .accepted(let message) = self { return message }
        return nil
    }

    /// The failed rule, `nil` when accepted.
    public var failedRule: C2VRule? {
        if case .rejected(let rule, _, _) = self { return rule }
        return nil
    }
}

/// ICD 7.4: verification of a C2V message by the module, a pure function of its inputs.
///
/// - A message is a push when its type is in `pushTypes` and it is not a response to the
///   outstanding request (a type in both sets matching the outstanding id is a response);
///   a push passes rule 6 with any transaction id. Every other message is a response.
/// - `lastCounter == nil` means no C2V message was accepted yet: any counter passes.
/// - OwnerKeyTermination: the signature is checked with `trust.ownerKeyTerminationKey()`
///   (every other C2V type, OwnerPairingModeRequest 0x0E included, comes from the VOS and
///   is checked under its signer certificate and [Z1]);
///   when [ZZ2] is missing or invalid there is no key, and the rule reported is
///   `.signerCertificate` (3), since the trust anchor, not the signature, is at fault.
/// - An unreadable signer certificate (no P-256 key) fails `.signature` (2): the signature
///   cannot be shown valid under it.
public enum C2VVerifier {
    /// Verifies `bytes` received on 0x6A8 for the module with serial `serial`.
    public static func verify(
        _ bytes: [UInt8], expectation: C2VExpectation, lastCounter: UInt32?, serial: String,
        trust: some SignerTrust
    ) -> C2VVerdict {
        // 1. Well-formed.
        let decoded: CloudMessageCodec.Decoded
        do { decoded = try CloudMessageCodec.decode(bytes) } catch {
            return reject(.wellFormed, error.description)
        }
        let message = decoded.message
        guard message.type.direction == .cloudToVehicle else {
            return reject(.wellFormed, CloudMessageError.wrongDirection(message.type).description)
        }

        // 2. Signature, 3. signer certificate.
        if message.type == .ownerKeyTermination {
            let key: P256.Signing.PublicKey
            switch trust.ownerKeyTerminationKey() {
            case .success(let k): key = k
            case .failure(let failure): return reject(.signerCertificate, "[ZZ2]: \(failure.reason)")
            }
            guard CloudSigning.isValid(signature: message.signature, of: decoded.signedBytes, key: key) else {
                return reject(.signature, "signature does not verify under [ZZ2]")
            }
        } else {
            let certificate = message.signerCertificate ?? []  // present: checked by the decoder
            let key: P256.Signing.PublicKey
            switch trust.publicKey(fromCertificate: certificate) {
            case .success(let k): key = k
            case .failure(let failure): return reject(.signature, "signer certificate unusable: \(failure.reason)")
            }
            guard CloudSigning.isValid(signature: message.signature, of: decoded.signedBytes, key: key) else {
                return reject(.signature, "signature does not verify under the signer certificate")
            }
            if case .failure(let failure) = trust.validate(certificate: certificate) {
                return reject(.signerCertificate, failure.reason)
            }
        }

        // 4. ECU serial.
        guard message.serial == serial else {
            return reject(.ecuSerial, "serial \(message.serial), this module is \(serial)")
        }
        // 5. Counter.
        if let lastCounter, message.counter <= lastCounter {
            return reject(.counter, "counter \(message.counter) not above the last accepted \(lastCounter)")
        }
        // 6. Transaction id (responses only).
        let role = expectation.role(of: message.type, transactionID: message.transactionID)
        if role != .push {
            guard let outstanding = expectation.outstandingTransactionID else {
                return reject(.transactionID, "\(message.type) answers no outstanding request")
            }
            guard message.transactionID == outstanding else {
                return reject(.transactionID,
                              "transaction id \(message.transactionID.hexString), outstanding \(outstanding.hexString)")
            }
        }
        // 7. Type.
        guard role != nil else {
            return reject(.messageType, "\(message.type) is not expected in this step")
        }
        return .accepted(message)
    }

    private static func reject(_ rule: C2VRule, _ reason: String) -> C2VVerdict {
        .rejected(rule, rule.status, reason)
    }
}
