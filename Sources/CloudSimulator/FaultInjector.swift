import CloudProtocol

/// The armed fault of the simulator: applied to the next `remaining` C2V messages (VOS and
/// KTS alike, pushes included), then disarmed. Arming replaces what was armed.
public struct FaultInjector: Sendable, Equatable {
    /// The fault, `nil` when disarmed.
    public private(set) var armed: CloudFault?
    /// How many more C2V messages get it.
    public private(set) var remaining = 0

    /// A disarmed injector.
    public init() {}

    /// Arms `fault` for the next `count` (at least 1) C2V messages.
    public mutating func arm(_ fault: CloudFault, count: Int = 1) {
        armed = fault
        remaining = max(1, count)
    }

    /// Disarms.
    public mutating func clear() {
        armed = nil
        remaining = 0
    }

    /// The fault for the message about to be sent, counting it down.
    mutating func take() -> CloudFault? {
        guard let fault = armed, remaining > 0 else { return nil }
        remaining -= 1
        if remaining == 0 { armed = nil }
        return fault
    }

    /// The payload that `wrongType` puts in place of `payload`: a completion ack, or for an
    /// ack a RemoteServiceProvisioningResponse with `drmUUID`.
    static func wrongTypePayload(for payload: CloudPayload, drmUUID: [UInt8]) -> CloudPayload {
        payload.type == .c2vUsecaseCompletionAck ? .remoteServiceProvisioningResponse(drmUUID: drmUUID) : .c2vUsecaseCompletionAck
    }

    /// `bytes` with the last byte of the signature value flipped (still DER-parsable, no
    /// longer valid): the last byte of the message is the signature's last byte.
    static func corruptingSignature(_ bytes: [UInt8]) -> [UInt8] {
        guard let last = bytes.last else { return bytes }
        var out = bytes
        out[out.count - 1] = last ^ 0x01
        return out
    }
}
