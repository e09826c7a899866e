import ArgumentParser
import Foundation
import PhoneSimulator

/// `spaak-phone pair --api …`: the password from the VOS's owner services, as the owner's
/// app gets it (OP-01a with --vin, the deep link with --deep-link), then the wait for the
/// pairing window the delivery opens (OwnerPairingModeRequest 0x0E).
extension Pair {
    /// The options of the API path go together (called by `validate`).
    func validateAPI() throws {
        guard let api else {
            guard token == nil, vin == nil, deepLink == nil else {
                throw ValidationError("--token, --vin and --deep-link need --api (the VOS's owner services)")
            }
            return
        }
        guard password == nil else { throw ValidationError("--password or --api, not both") }
        guard phases.contains(.two) else { throw ValidationError("--api brings the password of phase 2: --phase 2 or both") }
        guard let token else { throw ValidationError("--api needs --token (the owner's bearer token)") }
        guard Self.looksLikeJWT(token) else {
            throw ValidationError("--token is not a JWT (three base64url parts joined by dots, at most 8192 characters)")
        }
        guard (vin == nil) != (deepLink == nil) else {
            throw ValidationError("--api needs either --vin (request the password) or --deep-link (redeem a link)")
        }
        do {
            _ = try OwnerAPIAddress(parsing: api)
            if let deepLink { _ = try PairingDeepLink(parsing: deepLink) }
        } catch {
            throw ValidationError("\(error)")
        }
        if let vin, !PairingDeepLink.isVIN(vin) {
            throw ValidationError("--vin \(vin) is not 17 characters of A-Z (no I, O, Q) and 0-9")
        }
    }

    /// Three non-empty base64url parts joined by dots.
    static func looksLikeJWT(_ text: String) -> Bool {
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        let parts = text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        return text.utf8.count <= 8192 && parts.count == 3 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(alphabet.contains) }
    }

    /// The password from the VOS (prints each step, never the password); a refusal exits 1,
    /// no answer exits 2.
    func passwordFromVOS() throws -> String {
        do {
            let address = try OwnerAPIAddress(parsing: api ?? "")
            let client = OwnerAPIClient(address: address, token: token ?? "")
            let say = { (line: String) in
                print("spaak-phone: \(line)")
                fflush(nil)
            }
            if let deepLink {
                return try redeem(try PairingDeepLink(parsing: deepLink), client: client, say: say)
            }
            return try request(vin: vin ?? "", client: client, say: say)
        } catch let failure as OwnerAPIFailure {
            complain("\(failure)")
            switch failure {
            case .transport, .badAddress: throw PhoneExit.setup
            case .problem, .unexpected, .malformedReply: throw PhoneExit.failed
            }
        }
    }

    /// OP-01a: the password and its delivery id, then the confirmation of receipt.
    private func request(vin: String, client: OwnerAPIClient, say: (String) -> Void) throws(OwnerAPIFailure) -> String {
        let ask = OwnerAPICall.requestPassword(vin: vin)
        say("OP-01a: asking the VOS at \(client.address) for the pairing password of \(vin) (\(ask))")
        let (reply, status) = try client.send(ask, expecting: PasswordHandoutReply.self, say: say)
        let handout = try reply.validated(for: vin, status: status)
        let confirm = OwnerAPICall.confirmDelivery(vin: vin, deliveryId: handout.deliveryId)
        say("password received (\(handout.password.count) digits), delivery id \(handout.deliveryId); confirming receipt (\(confirm))")
        let (delivery, _) = try client.send(confirm, expecting: DeliveryReply.self, say: say)
        say("delivered at \(delivery.deliveredAt) (channel \(delivery.channel)); \(delivery.pairingModeRequest.sentence)")
        return handout.password
    }

    /// The deep link's token redeemed for the password.
    private func redeem(_ link: PairingDeepLink, client: OwnerAPIClient, say: (String) -> Void) throws(OwnerAPIFailure) -> String {
        let call = OwnerAPICall.redeem(token: link.token)
        say("redeeming the deep link \(link.redacted) at \(client.address) (\(call))")
        let (reply, status) = try client.send(call, expecting: RedeemedPasswordReply.self, say: say)
        let redeemed = try reply.validated(for: link.vin, status: status)
        say("password received (\(redeemed.password.count) digits), delivered at \(redeemed.deliveredAt); "
            + redeemed.pairingModeRequest.sentence)
        return redeemed.password
    }

    /// Waits, up to --timeout, for SPAAK_Status byte 7 = 1 before the first tap (exit 1 when
    /// it does not come, or a signal stops the wait).
    func awaitWindow(_ runner: PhoneRunner) throws {
        print("spaak-phone: waiting up to \(timeoutDuration) for the pairing window (SPAAK_Status byte 7 = 1) before the first tap")
        let outcome: PairingWindowWait.Outcome?
        do {
            outcome = try runner.awaitWindow(timeout: timeoutDuration, statusID: statusId)
        } catch {
            complain("\(error)")
            throw PhoneExit.setup
        }
        guard case .open? = outcome else {
            complain(outcome == nil ? "stopped by a signal while waiting for the pairing window"
                     : "the pairing window did not open: the VOS's OwnerPairingModeRequest did not reach the module "
                        + "(or the module refused it); the driver can open it on the head unit (spaak-phone hu-start)")
            throw PhoneExit.failed
        }
    }
}
