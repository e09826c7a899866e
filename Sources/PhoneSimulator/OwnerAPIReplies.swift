/// The answers of the owner services the app reads, as the app's own model of the OpenAPI
/// document (schemas PasswordHandout, Delivery, RedeemedPassword, PairingModeRequest): only
/// the fields it needs; unknown ones are ignored. Descriptions never show the password.

/// OwnerPairingModeRequest 0x0E after a delivery: `sent`, or `not-sent` with the reason.
public struct PairingModeRequestReply: Decodable, Hashable, Sendable {
    /// `sent` or `not-sent`.
    public var state: String
    /// The VOS's words (the control reply).
    public var detail: String?

    /// Creates one (tests).
    public init(state: String, detail: String? = nil) {
        self.state = state
        self.detail = detail
    }

    /// Whether the VOS sent 0x0E to the vehicle.
    public var sent: Bool { state == "sent" }

    /// What the phone prints about it.
    public var sentence: String {
        let detail = detail.map { ": \($0)" } ?? ""
        return sent ? "the VOS sent OwnerPairingModeRequest 0x0E to the vehicle\(detail)"
            : "the VOS could not send OwnerPairingModeRequest 0x0E to the vehicle\(detail)"
    }
}

/// OP-01a: `POST …/pairing-password` → 200.
public struct PasswordHandoutReply: Decodable, Hashable, Sendable, CustomStringConvertible {
    public var vin: String
    /// The pairing password (decimal digits).
    public var password: String
    /// To confirm receipt with.
    public var deliveryId: String
    public var handedOutAt: String

    /// Creates one (tests).
    public init(vin: String, password: String, deliveryId: String, handedOutAt: String) {
        self.vin = vin
        self.password = password
        self.deliveryId = deliveryId
        self.handedOutAt = handedOutAt
    }

    /// Checks the answer belongs to `vin`, carries a password the phone can use and a delivery
    /// id of the contract's form (it goes back into the confirmation's body).
    public func validated(for vin: String, status: Int) throws(OwnerAPIFailure) -> Self {
        guard self.vin == vin else { throw .malformedReply(status: status, "the password of another VIN (\(self.vin))") }
        try PairingPasswordCheck.check(password, status: status)
        let hex = Array("0123456789abcdef".utf8)
        guard deliveryId.utf8.count == 32, deliveryId.utf8.allSatisfy({ hex.contains($0) }) else {
            throw .malformedReply(status: status, "deliveryId is not 32 lower-case hex digits")
        }
        return self
    }

    public var description: String {
        "PasswordHandout(vin: \(vin), password: <\(password.count) digits>, deliveryId: \(deliveryId), handedOutAt: \(handedOutAt))"
    }
}

/// OP-01a: `POST …/pairing-password/confirmation` → 200 (schema Delivery).
public struct DeliveryReply: Decodable, Hashable, Sendable {
    public var vin: String
    public var deliveredAt: String
    /// `app` or `link`.
    public var channel: String
    public var pairingModeRequest: PairingModeRequestReply

    /// Creates one (tests).
    public init(vin: String, deliveredAt: String, channel: String, pairingModeRequest: PairingModeRequestReply) {
        self.vin = vin
        self.deliveredAt = deliveredAt
        self.channel = channel
        self.pairingModeRequest = pairingModeRequest
    }
}

/// OP-01a/b: `POST /v1/pairing-links/redemption` → 200 (schema RedeemedPassword).
public struct RedeemedPasswordReply: Decodable, Hashable, Sendable, CustomStringConvertible {
    public var vin: String
    /// The pairing password (decimal digits).
    public var password: String
    public var deliveredAt: String
    public var pairingModeRequest: PairingModeRequestReply

    /// Creates one (tests).
    public init(vin: String, password: String, deliveredAt: String, pairingModeRequest: PairingModeRequestReply) {
        self.vin = vin
        self.password = password
        self.deliveredAt = deliveredAt
        self.pairingModeRequest = pairingModeRequest
    }

    /// Checks the answer belongs to the link's VIN and carries a usable password.
    public func validated(for vin: String, status: Int) throws(OwnerAPIFailure) -> Self {
        guard self.vin == vin else { throw .malformedReply(status: status, "the password of another VIN (\(self.vin))") }
        try PairingPasswordCheck.check(password, status: status)
        return self
    }

    public var description: String {
        "RedeemedPassword(vin: \(vin), password: <\(password.count) digits>, deliveredAt: \(deliveredAt), "
            + "pairingModeRequest: \(pairingModeRequest.state))"
    }
}

/// What the phone accepts as a pairing password from the VOS.
enum PairingPasswordCheck {
    /// 1…64 decimal digits (the VOS's passwords are digits; ICD 7.6 derives w0/w1 from them).
    static func check(_ password: String, status: Int) throws(OwnerAPIFailure) {
        let bytes = Array(password.utf8)
        guard (1...64).contains(bytes.count), bytes.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw .malformedReply(status: status, "the password is not 1 to 64 decimal digits (\(bytes.count) characters)")
        }
    }
}
