import CloudSimulator
import Foundation
@testable import OwnerServices
import Testing

/// A parsed RFC 5322 message: header fields (unfolded) and body lines.
struct ParsedMail {
    var headers: [String: String] = [:]
    var headerOrder: [String] = []
    var body: [String] = []

    init(_ data: [UInt8]) throws {
        let text = String(decoding: data, as: UTF8.self)
        guard text.hasSuffix("\r\n") else { throw BenchError("the message does not end with CRLF") }
        var lines = text.components(separatedBy: "\r\n")
        lines.removeLast()
        guard let blank = lines.firstIndex(of: "") else { throw BenchError("no empty line after the header") }
        for line in lines[..<blank] {
            guard let colon = line.firstIndex(of: ":") else { throw BenchError("header line without a colon: \(line)") }
            let name = String(line[..<colon])
            headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headerOrder.append(name)
        }
        body = Array(lines[(blank + 1)...])
    }
}

@Suite("Owner services: OP-01b e-mail")
struct EmailTests {
    @Test("The e-mail goes to the owner's address through the outbox; the link in it redeems", arguments: RepositoryKind.allCases)
    func emailLink(kind: RepositoryKind) throws {
        let bench = try Bench.provisioned(kind)
        let sent = try bench.services.emailLink(vin: bench.vin, caller: alicePortal, date: testDate)
        #expect(sent.sentTo == "a***@owners.spaak-sim.test" && sent.expiresAt == testDate.addingTimeInterval(86400))
        let message = try #require(bench.outbox.messages.first)
        #expect(bench.outbox.messages.count == 1)
        #expect(message.to == "alice@owners.spaak-sim.test" && message.messageId == sent.messageId)
        let mail = try ParsedMail(message.data)
        #expect(mail.headers["From"] == "\"Vehicle OEM Server\" <no-reply@vos.spaak-sim.test>")
        #expect(mail.headers["To"] == "alice@owners.spaak-sim.test")
        #expect(mail.headers["Subject"] == "Your vehicle's pairing link (VIN \(bench.vin))")
        #expect(mail.headers["Date"] == "Fri, 15 Jan 2027 08:00:00 +0000")
        #expect(mail.headers["Message-ID"] == sent.messageId)
        #expect(sent.messageId.wholeMatch(of: /<[0-9a-f]{32}@vos\.spaak-sim\.test>/) != nil)
        #expect(mail.headers["MIME-Version"] == "1.0")
        #expect(mail.headers["Content-Type"] == "text/plain; charset=utf-8")
        #expect(mail.headers["Content-Transfer-Encoding"] == "7bit")
        // 7bit: ASCII only, no bare CR or LF, lines of at most 78 characters except the deep link's.
        #expect(message.data.allSatisfy { $0 < 0x80 })
        let text = String(decoding: message.data, as: UTF8.self)
        #expect(text.replacingOccurrences(of: "\r\n", with: "").allSatisfy { $0 != "\r" && $0 != "\n" })
        let links = mail.body.filter { $0.hasPrefix("spaak://pair?") }
        #expect(links.count == 1)
        let deepLink = try #require(links.first)
        #expect(deepLink.count <= 998)
        #expect(mail.body.filter { $0 != deepLink }.allSatisfy { $0.count <= 78 })
        #expect(mail.body.contains { $0.contains("2027-01-16 08:00 UTC") })
        let record = try #require(try bench.repository.transaction { try $0.pairingLink(tokenHash: PairingToken.hash(token(of: deepLink))) })
        #expect(record.via == .email && record.user == "alice")
        let redeemed = try bench.services.redeem(token: token(of: deepLink), caller: alice, date: testDate)
        #expect(redeemed.password.password.count == 8)
        #expect(!text.contains(redeemed.password.password))
    }

    @Test("The outbox fails: mail delivery failed, and no link is left behind", arguments: RepositoryKind.allCases)
    func outboxFails(kind: RepositoryKind) throws {
        let bench = try Bench.provisioned(kind)
        bench.outbox.failing = true
        let error = failure { try bench.services.emailLink(vin: bench.vin, caller: alicePortal, date: testDate) }
        #expect(error?.reason == .mailDeliveryFailed && error?.detail.contains("disk full") == true)
        let password = try #require(try bench.currentPassword())
        #expect(password.state == .available && password.channel == nil)
        #expect(try bench.repository.transaction { try $0.pairingLinks(verifierId: password.verifierId) }.isEmpty)
        bench.outbox.failing = false
        _ = try bench.services.emailLink(vin: bench.vin, caller: alicePortal, date: testDate)
        #expect(try bench.currentPassword()?.state == .linkIssued)
    }

    @Test("A second e-mail replaces the first link", arguments: [false, true])
    func secondEmail(viaApp: Bool) throws {
        let bench = try Bench.provisioned()
        if viaApp {
            _ = try bench.services.createLink(vin: bench.vin, caller: alice, date: testDate)
        } else {
            _ = try bench.services.emailLink(vin: bench.vin, caller: alice, date: testDate)
        }
        _ = try bench.services.emailLink(vin: bench.vin, caller: alice, date: testDate.addingTimeInterval(1))
        let verifierId = try #require(try bench.currentPassword()).verifierId
        let links = try bench.repository.transaction { try $0.pairingLinks(verifierId: verifierId) }
        #expect(links.count == 2 && links[0].replacedAt != nil && links[1].replacedAt == nil)
    }

    @Test("Composition: a 7bit body wrapped at 72, the Date header in RFC 5322 form")
    func composition() {
        #expect(PairingLinkEmail.rfc5322(Date(timeIntervalSince1970: 0)) == "Thu, 01 Jan 1970 00:00:00 +0000")
        #expect(PairingLinkEmail.rfc5322(Date(timeIntervalSince1970: 1_709_210_096)) == "Thu, 29 Feb 2024 12:34:56 +0000")
        let email = PairingLinkEmail(fromName: "V\"OS", fromAddress: "a@b.test", to: "c@d.test", vin: "VF3ABCDEF12345678",
                                     deepLink: "spaak://pair?vin=VF3ABCDEF12345678&token=" + String(repeating: "x", count: 43),
                                     expiresAt: testDate.addingTimeInterval(7200), date: testDate, messageId: "<1@b.test>")
        #expect(email.headers.first?.value == "\"VOS\" <a@b.test>")
        #expect(email.bodyLines.contains { $0.contains("(in 2 hours)") })
        #expect(PairingLinkEmail.wrap(String(repeating: "word ", count: 40)).allSatisfy { $0.count <= 72 })
        #expect(email.text.hasSuffix("Vehicle OEM Server (spaak-sim)\r\n"))
    }

    @Test("Masked addresses")
    func masking() {
        #expect(OwnerServices.masked("alice@example.com") == "a***@example.com")
        #expect(OwnerServices.masked("x@y.test") == "x***@y.test")
    }
}
