import CloudSimulator
import Foundation

/// OP-01b through the help centre: an agent takes the request, the owner authorizes it, the
/// deep link is e-mailed to the owner.
extension OwnerServices {
    /// An agent takes a pairing password request for `vin` (hotline): checks 2 and 4-7 (not
    /// the owner check: the agent is not the owner; a VIN without owner is an
    /// `unknownVehicle`). The request waits for the owner's authorization.
    public func createHotlineRequest(vin: String, caller: Caller, date: Date) throws(OwnerServiceError) -> HotlineRequestView {
        try Self.requireRole(caller, [.hotline], "take a hotline request")
        try Self.requireVIN(vin)
        return try transaction { store in
            let target = try Self.deliveryTarget(vin: vin, caller: caller, store: store)
            try Self.requireUndelivered(target)
            if target.password.state == .handedOut {
                throw OwnerServiceError(.deliveryChannelConflict,
                                        "the pairing password of \(vin) was handed to the app: it is delivered by the app's confirmation")
            }
            let record = HotlineRequestRecord(id: newHexId(), vin: vin, agent: caller.user, createdAt: date)
            try store.saveHotlineRequest(record)
            return Self.view(record)
        }
    }

    /// A hotline request: any for the hotline; the vehicle's owner (owner, portal).
    public func hotlineRequest(id: String, caller: Caller) throws(OwnerServiceError) -> HotlineRequestView {
        try Self.requireRole(caller, [.hotline, .owner, .portal], "see a hotline request")
        try Self.requireRequestId(id)
        return try transaction { store in Self.view(try Self.visibleRequest(id: id, caller: caller, store: store)) }
    }

    /// The vehicle's owner authorizes a waiting request (owner, portal): the deep link is
    /// e-mailed to the owner as `emailLink` does, in the same transaction. When the e-mail
    /// fails the request becomes `failed` (that is kept), no link is left, and the caller
    /// gets `mailDeliveryFailed`.
    public func authorizeHotlineRequest(id: String, caller: Caller, date: Date) throws(OwnerServiceError) -> HotlineRequestView {
        try Self.requireRole(caller, [.owner, .portal], "authorize a hotline request")
        try Self.requireRequestId(id)
        do throws(OwnerServiceError) {
            return try transaction { store in
                var request = try Self.visibleRequest(id: id, caller: caller, store: store)
                guard request.state == .awaitingAuthorization else {
                    throw OwnerServiceError(.requestNotPending, "hotline request \(id) is \(request.state), not awaiting authorization")
                }
                let target = try Self.deliveryTarget(vin: request.vin, caller: caller, store: store)
                let sent = try sendLink(target, store: store, date: date)
                request.state = .sent
                request.authorizedBy = caller.user
                request.authorizedAt = date
                request.messageId = sent.messageId
                try store.saveHotlineRequest(request)
                return Self.view(request)
            }
        } catch where error.reason == .mailDeliveryFailed {
            try transaction { store in
                guard var request = try store.hotlineRequest(id: id), request.state == .awaitingAuthorization else { return }
                request.state = .failed
                request.authorizedBy = caller.user
                request.authorizedAt = date
                request.failure = error.detail
                try store.saveHotlineRequest(request)
            }
            throw error
        }
    }

    /// Every hotline request (hotline), or those of the caller's vehicles (owner, portal),
    /// oldest first.
    public func hotlineRequests(caller: Caller) throws(OwnerServiceError) -> [HotlineRequestView] {
        try Self.requireRole(caller, [.hotline, .owner, .portal], "list hotline requests")
        return try transaction { store in
            let all = try store.hotlineRequests()
            guard caller.role != .hotline else { return all.map(Self.view) }
            let vins = Set(try store.owners(user: caller.user).map(\.vin))
            return all.filter { vins.contains($0.vin) }.map(Self.view)
        }
    }

    /// The request `id`, if the caller may see it.
    private static func visibleRequest(id: String, caller: Caller, store: any CloudStore) throws -> HotlineRequestRecord {
        guard let request = try store.hotlineRequest(id: id) else {
            throw OwnerServiceError(.unknownRequest, "no hotline request \(id)")
        }
        if caller.role != .hotline, try store.owner(vin: request.vin)?.user != caller.user {
            throw OwnerServiceError(.notOwner, "\(caller.user) is not the registered owner of \(request.vin)")
        }
        return request
    }

    private static func requireRequestId(_ id: String) throws(OwnerServiceError) {
        guard OwnerSyntax.isHexId(id) else {
            throw OwnerServiceError(.invalidRequest, "a hotline request id is 32 lower-case hex digits")
        }
    }

    private static func view(_ record: HotlineRequestRecord) -> HotlineRequestView {
        HotlineRequestView(id: record.id, vin: record.vin, agent: record.agent, state: record.state, createdAt: record.createdAt,
                           authorizedAt: record.authorizedAt, messageId: record.messageId, failure: record.failure)
    }
}
