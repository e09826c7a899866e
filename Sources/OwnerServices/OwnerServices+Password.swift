import CloudSimulator
import Foundation

/// OP-01a, the app channel: the password handed out, then delivered when the app confirms.
extension OwnerServices {
    /// Hands the pairing password to the app (owner). Available → handed out (a new
    /// delivery id); handed out → the same password and delivery id again (the answer may
    /// have been lost). Nothing is delivered until `confirmDelivery`.
    public func requestPassword(vin: String, caller: Caller, date: Date) throws(OwnerServiceError) -> PasswordHandout {
        try Self.requireRole(caller, [.owner], "request a pairing password")
        try Self.requireVIN(vin)
        return try transaction { store in
            let target = try Self.deliveryTarget(vin: vin, caller: caller, store: store)
            try Self.requireUndelivered(target)
            var password = target.password
            switch password.state {
            case .linkIssued:
                throw OwnerServiceError(.deliveryChannelConflict,
                                        "a pairing link was issued for \(vin): the password is delivered by redeeming it")
            case .available:
                password.channel = .app
                password.deliveryId = newHexId()
                password.handedOutAt = date
                try store.savePassword(password)
            default:
                break  // handed out: the same again
            }
            guard let secret = password.password, let deliveryId = password.deliveryId, let handedOutAt = password.handedOutAt else {
                throw OwnerServiceError(.internalError, "the pairing password record of \(vin) is incomplete")
            }
            return PasswordHandout(vin: vin, password: secret, deliveryId: deliveryId, handedOutAt: handedOutAt)
        }
    }

    /// The app confirms receipt (owner): the handed-out password with `deliveryId` is
    /// delivered (the VOS forgets it), `newlyDelivered`; the same confirmation again answers
    /// the same with `newlyDelivered` false. Another id is an `unknownDelivery`; a password
    /// on the link channel a `deliveryChannelConflict`.
    public func confirmDelivery(vin: String, deliveryId: String, caller: Caller, date: Date) throws(OwnerServiceError) -> DeliveryOutcome {
        try Self.requireRole(caller, [.owner], "confirm a pairing password delivery")
        try Self.requireVIN(vin)
        guard OwnerSyntax.isHexId(deliveryId) else {
            throw OwnerServiceError(.invalidRequest, "the delivery id must be 32 lower-case hex digits")
        }
        return try transaction { store in
            let owner = try Self.requireOwner(vin: vin, caller: caller, store: store)
            let vehicle = try Self.requireVehicle(vin: vin, store: store)
            guard let current = try store.currentPassword(serial: vehicle.serial), var password = current.password,
                  password.deliveryId == deliveryId || password.channel == .link else {
                throw OwnerServiceError(.unknownDelivery, "no delivery \(deliveryId) of the current pairing password of \(owner.vin)")
            }
            if password.channel == .link {
                throw OwnerServiceError(.deliveryChannelConflict,
                                        "the pairing password of \(vin) is delivered by a pairing link, not to the app")
            }
            switch password.state {
            case .delivered:
                return Self.outcome(vin: vin, serial: vehicle.serial, deliveredAt: password.deliveredAt ?? date, newly: false)
            case .handedOut:
                password.deliveredAt = date
                password.password = nil
                try store.savePassword(password)
                return Self.outcome(vin: vin, serial: vehicle.serial, deliveredAt: date, newly: true)
            case .withdrawn:
                throw OwnerServiceError(.serviceNotProvisioned, "the service is not provisioned for \(vin): "
                                        + VehicleOEMServer.withdrawnPasswordAdvice(serial: vehicle.serial))
            default:
                throw OwnerServiceError(.passwordAlreadyDelivered, "the pairing password of \(vin) has ended (\(password.state))")
            }
        }
    }

    private static func outcome(vin: String, serial: String, deliveredAt: Date, newly: Bool) -> DeliveryOutcome {
        let request = newly ? PairingModeRequestView(state: .notSent, detail: "not sent yet")
            : PairingModeRequestView(state: .notSent, detail: "already delivered: the pairing mode request followed the first confirmation")
        return DeliveryOutcome(delivery: DeliveryView(vin: vin, deliveredAt: deliveredAt, channel: .app, pairingModeRequest: request),
                               serial: serial, newlyDelivered: newly)
    }
}
