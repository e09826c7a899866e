import E2E
import Foundation
import PhoneSimulator
import SpaakCore
import Testing

/// The pure pieces of `spaak-phone pair --api`: the deep link read strictly, the owner
/// services' address, requests and answers, and the wait for the pairing window.
@Suite struct OwnerAPIPieceTests {
    static let vin = "ZFA25000001234567"
    static let token = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcdE"  // 43 characters, last one canonical

    // MARK: - Deep link

    @Test func readsTheLinkTheVOSWrites() throws {
        let link = try PairingDeepLink(parsing: "spaak://pair?vin=\(Self.vin)&token=\(Self.token)")
        #expect(link.vin == Self.vin && link.token == Self.token)
        #expect(link.text == "spaak://pair?vin=\(Self.vin)&token=\(Self.token)")
        #expect(link.redacted == "spaak://pair?vin=\(Self.vin)&token=<43 characters>")
        let swapped = try PairingDeepLink(parsing: "spaak://pair?token=\(Self.token)&vin=\(Self.vin)")
        #expect(swapped == link)
    }

    @Test(arguments: [
        ("SPAAK://pair?vin=V&token=T", PairingDeepLinkError.wrongScheme),
        ("https://pair?vin=V&token=T", .wrongScheme),
        ("spaak:pair?vin=V&token=T", .noAuthority),
        ("spaak://Pair?vin=V&token=T", .wrongHost),
        ("spaak://owner@pair?vin=V&token=T", .wrongHost),
        ("spaak://pair:80?vin=V&token=T", .wrongHost),
        ("spaak://evil.example?vin=V&token=T", .wrongHost),
        ("spaak://pair/?vin=V&token=T", .path),
        ("spaak://pair/x?vin=V&token=T", .path),
        ("spaak://pair", .path),
        ("spaak://pair?vin=V&token=T#x", .fragment),
        ("spaak://pair?", .malformedParameter),
        ("spaak://pair?vin=V&&token=T", .malformedParameter),
        ("spaak://pair?vin=V&token", .malformedParameter),
        ("spaak://pair?vin=V&token=T&x=1", .unknownParameter("\"x\"")),
        ("spaak://pair?vin=V&vin=V&token=T", .repeatedParameter("vin")),
        ("spaak://pair?vin=V&token=T&token=T", .repeatedParameter("token")),
        ("spaak://pair?token=T", .missingParameter("vin")),
        ("spaak://pair?vin=V", .missingParameter("token")),
        ("spaak://pair?vin=ZFA2500000123456&token=T", .invalidVIN),
        ("spaak://pair?vin=ZFA250000012345678&token=T", .invalidVIN),
        ("spaak://pair?vin=ZFA2500000123456O&token=T", .invalidVIN),
        ("spaak://pair?vin=zfa25000001234567&token=T", .invalidVIN),
        ("spaak://pair?vin=ZFA25000001234%35&token=T", .invalidVIN),
        ("spaak://pair?vin=V&token=\(token.dropLast())", .invalidToken("42 characters, 43 expected")),
        ("spaak://pair?vin=V&token=\(token)A", .invalidToken("44 characters, 43 expected")),
        ("spaak://pair?vin=V&token=\(token.dropLast(2))+E", .invalidToken("a character outside base64url (A-Z a-z 0-9 - _)")),
        ("spaak://pair?vin=V&token=\(token.dropLast(2))%E", .invalidToken("a character outside base64url (A-Z a-z 0-9 - _)")),
        ("spaak://pair?vin=V&token=\(token.dropLast())F",
         .invalidToken("not the canonical base64url of 32 bytes (its last character)")),
        (" spaak://pair?vin=V&token=T", .notPrintableASCII),
        ("spaak://pair?vin=V&token=T\n", .notPrintableASCII),
        ("spaak://pair?vin=V&token=Tä", .notPrintableASCII),
        ("spaak://pair?vin=V&token=" + String(repeating: "A", count: 240), .tooLong(265)),
    ])
    func refusesEverythingElse(text: String, expected: PairingDeepLinkError) {
        let filled = text.replacingOccurrences(of: "vin=V&", with: "vin=\(Self.vin)&")
            .replacingOccurrences(of: "vin=V", with: "vin=\(Self.vin)")
            .replacingOccurrences(of: "token=T", with: "token=\(Self.token)")
        let expectation: PairingDeepLinkError
        if case .tooLong = expected { expectation = .tooLong(filled.utf8.count) } else { expectation = expected }
        #expect(throws: expectation) { try PairingDeepLink(parsing: filled) }
    }

    @Test func errorsNeverRepeatTheToken() {
        let mangled = [
            "spaak://pair?vin=\(Self.vin)&\(Self.token)=1",
            "spaak://pair?vin=\(Self.vin)&token=\(Self.token)F",
            "spaak://pair?vin=\(Self.vin)&token=\(Self.token)#",
            "spaak://other?vin=\(Self.vin)&token=\(Self.token)",
        ]
        for text in mangled {
            do {
                _ = try PairingDeepLink(parsing: text)
                Issue.record("accepted \(text)")
            } catch {
                #expect(!error.description.contains(Self.token.prefix(12)), "\(error)")
                #expect(error.description.hasPrefix("not a pairing link"))
            }
        }
    }

    @Test func vinSyntax() {
        #expect(PairingDeepLink.isVIN("WVWZZZ1JZXW000001"))
        #expect(!PairingDeepLink.isVIN("WVWZZZ1JZXW00000I"))
        #expect(!PairingDeepLink.isVIN("WVWZZZ1JZXW00000Q"))
        #expect(!PairingDeepLink.isVIN(""))
        #expect(!PairingDeepLink.isVIN("WVWZZZ1JZXW00000١"))
    }

    // MARK: - Address and calls

    @Test func address() throws {
        #expect(try OwnerAPIAddress(parsing: "http://127.0.0.1:8401/").base == "http://127.0.0.1:8401")
        #expect(try OwnerAPIAddress(parsing: "https://vos.example/api//").base == "https://vos.example/api")
        let at = try OwnerAPIAddress(parsing: "http://127.0.0.1:8401")
        #expect(at.url(of: .requestPassword(vin: Self.vin)) == "http://127.0.0.1:8401/v1/vehicles/\(Self.vin)/pairing-password")
        for bad in ["127.0.0.1:8401", "ftp://h", "http://", "http:///x", "http://u@h", "http://h?x=1", "http://h#f",
                    "http://h x", "http://h\n"] {
            #expect(throws: OwnerAPIFailure.self, "\(bad)") { try OwnerAPIAddress(parsing: bad) }
        }
    }

    @Test func calls() throws {
        let deliveryId = String(repeating: "ab", count: 16)
        let confirm = OwnerAPICall.confirmDelivery(vin: Self.vin, deliveryId: deliveryId)
        #expect(confirm.path == "/v1/vehicles/\(Self.vin)/pairing-password/confirmation" && confirm.method == "POST")
        #expect(confirm.body == Array("{\"deliveryId\":\"\(deliveryId)\"}".utf8))
        #expect(OwnerAPICall.requestPassword(vin: Self.vin).body == nil)
        let redeem = OwnerAPICall.redeem(token: Self.token)
        #expect(redeem.path == "/v1/pairing-links/redemption")
        #expect(redeem.body == Array("{\"token\":\"\(Self.token)\"}".utf8))
        #expect(!redeem.description.contains(Self.token) && redeem.description == "POST /v1/pairing-links/redemption")
        #expect(confirm.isIdempotent && OwnerAPICall.requestPassword(vin: Self.vin).isIdempotent && !redeem.isIdempotent)
    }

    // MARK: - Answers

    static func json(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func decodesTheHandoutAndHidesThePassword() throws {
        let body = Self.json(#"{"vin":"ZFA25000001234567","password":"97531864","deliveryId":"0123456789abcdef0123456789abcdef","handedOutAt":"2025-01-01T00:00:00Z","extra":1}"#)
        let reply = try OwnerAPIReply.decode(PasswordHandoutReply.self, status: 200, contentType: "application/json; charset=utf-8", body: body)
        let handout = try reply.validated(for: Self.vin, status: 200)
        #expect(handout.password == "97531864" && handout.deliveryId == "0123456789abcdef0123456789abcdef")
        #expect(!"\(handout)".contains("97531864") && "\(handout)".contains("<8 digits>"))
        #expect(throws: OwnerAPIFailure.self) { try reply.validated(for: "WVWZZZ1JZXW000001", status: 200) }
        var odd = reply
        odd.password = "1234 678"
        #expect(throws: OwnerAPIFailure.self) { try odd.validated(for: Self.vin, status: 200) }
        odd = reply
        odd.deliveryId = "0123456789ABCDEF0123456789abcdef"
        #expect(throws: OwnerAPIFailure.self) { try odd.validated(for: Self.vin, status: 200) }
    }

    @Test func decodesDeliveryAndRedemption() throws {
        let delivery = try OwnerAPIReply.decode(DeliveryReply.self, status: 200, contentType: "application/json", body: Self.json(
            #"{"vin":"ZFA25000001234567","deliveredAt":"2025-01-01T00:00:01Z","channel":"app","pairingModeRequest":{"state":"not-sent","detail":"error TBM offline"}}"#))
        #expect(!delivery.pairingModeRequest.sent && delivery.channel == "app")
        #expect(delivery.pairingModeRequest.sentence == "the VOS could not send OwnerPairingModeRequest 0x0E to the vehicle: error TBM offline")
        let redeemed = try OwnerAPIReply.decode(RedeemedPasswordReply.self, status: 200, contentType: "application/json", body: Self.json(
            #"{"vin":"ZFA25000001234567","password":"87654321","deliveredAt":"2025-01-01T00:00:01Z","pairingModeRequest":{"state":"sent"}}"#))
        #expect(try redeemed.validated(for: Self.vin, status: 200).pairingModeRequest.sent)
        #expect(!"\(redeemed)".contains("87654321"))
    }

    @Test func problemDocumentsAndOtherAnswers() {
        let problem = Self.json(#"{"type":"urn:spaak:problem:not-owner","title":"The user is not the owner of this vehicle","status":403,"detail":"ZFA25000001234567 belongs to another user","instance":"/v1/vehicles/ZFA25000001234567/pairing-password","reason":"not-owner"}"#)
        #expect(throws: OwnerAPIFailure.self) {
            try OwnerAPIReply.decode(PasswordHandoutReply.self, status: 403, contentType: "application/problem+json", body: problem)
        }
        do {
            _ = try OwnerAPIReply.decode(PasswordHandoutReply.self, status: 403, contentType: "application/problem+json", body: problem)
        } catch {
            #expect(error.description == "403 not-owner: ZFA25000001234567 belongs to another user")
        }
        let cases: [(Int, String?, [UInt8], String)] = [
            (502, "text/html", Self.json("<h1>Bad gateway</h1>\n"), "502 unexpected answer: content type text/html: <h1>Bad gateway</h1>"),
            (200, "text/plain", Self.json("12345678"), "200 unexpected answer: content type text/plain, application/json expected"),
            (404, nil, [], "404 unexpected answer: content type none: an empty body"),
            (410, "application/problem+json", Self.json(#"{"status":410,"reason":"link-not-valid","title":"The pairing link is not valid"}"#),
             "410 link-not-valid: The pairing link is not valid"),
        ]
        for (status, type, body, expected) in cases {
            do {
                _ = try OwnerAPIReply.decode(PasswordHandoutReply.self, status: status, contentType: type, body: body)
                Issue.record("decoded \(status)")
            } catch {
                #expect(error.description == expected)
            }
        }
        do {
            _ = try OwnerAPIReply.decode(PasswordHandoutReply.self, status: 200, contentType: "application/json", body: Self.json(#"{"vin":1}"#))
            Issue.record("decoded a bad handout")
        } catch {
            #expect(error.description.hasPrefix("200 answer not as the contract says"))
        }
    }

    // MARK: - The wait for the window

    static func status(byte7: UInt8, counter: UInt8 = 0) -> CANFrame {
        CANFrame(id: 0x3A8, data: E2EProfile.protect(dataID: 0x03A8, counter: counter, signals: [0xFF, 0, 0, 0, 0, byte7]))
    }

    @Test func waitsForByte7One() {
        var wait = PairingWindowWait(timeout: .seconds(30), now: .milliseconds(1000))
        #expect(wait.deadline == .milliseconds(31_000))
        #expect(wait.handle(Self.status(byte7: 0)) == ["module: SPAAK_Status byte 7 = 0 (no owner key): waiting for the pairing window (1)"])
        #expect(wait.handle(Self.status(byte7: 0, counter: 1)).isEmpty)
        var corrupt = Self.status(byte7: 1, counter: 2)
        corrupt.data[0] ^= 1
        #expect(wait.handle(corrupt).isEmpty && wait.outcome == nil)
        #expect(wait.handle(CANFrame(id: 0x3A9, data: Self.status(byte7: 1).data)).isEmpty)
        #expect(wait.handleTimeout(now: .milliseconds(30_999)).isEmpty)
        let lines = wait.handle(Self.status(byte7: 1, counter: 3))
        #expect(lines.count == 1 && lines[0].contains("byte 7 = 1"))
        guard case .open(let view)? = wait.outcome else { Issue.record("not open"); return }
        #expect(view.ownerPairingState == 1)
        #expect(wait.handleTimeout(now: .milliseconds(40_000)).isEmpty)
    }

    @Test func givesUpAtTheDeadline() {
        var wait = PairingWindowWait(timeout: .seconds(5), now: .zero)
        _ = wait.handle(Self.status(byte7: 3))
        #expect(wait.handleTimeout(now: .milliseconds(5000)) == ["the pairing window did not open within 5.0 seconds (byte 7 = 3 (owner key active))"])
        #expect(wait.outcome == .timedOut(ModuleStatusView(ownerPairingState: 3, failedAttempts: 0, verifierPresent: true)))
        var silent = PairingWindowWait(timeout: .seconds(5), now: .zero)
        #expect(silent.handleTimeout(now: .milliseconds(5000)) == ["the pairing window did not open within 5.0 seconds (no SPAAK_Status frame)"])
    }
}
