import Foundation
@testable import OwnerServices
import Testing

@Suite("Maildir outbox")
struct MaildirTests {
    @Test("Messages land in new/ whole, tmp/ stays empty, the folders are 0700")
    func delivery() throws {
        let root = temporaryPath("mail")
        let outbox = try MaildirOutbox(root: root)
        let fm = FileManager.default
        for sub in ["", "/tmp", "/new", "/cur"] {
            let attributes = try fm.attributesOfItem(atPath: root + sub)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o700, "\(sub)")
        }
        let one = MailMessage(messageId: "<1@x.test>", to: "a@x.test", data: Array("Subject: one\r\n\r\nbody\r\n".utf8))
        let two = MailMessage(messageId: "<2@x.test>", to: "a@x.test", data: Array("Subject: two\r\n\r\nbody\r\n".utf8))
        try outbox.deliver(one)
        try outbox.deliver(two)
        let names = try fm.contentsOfDirectory(atPath: root + "/new").sorted()
        #expect(names.count == 2 && Set(names).count == 2)
        #expect(try fm.contentsOfDirectory(atPath: root + "/tmp").isEmpty)
        #expect(try fm.contentsOfDirectory(atPath: root + "/cur").isEmpty)
        let contents = try names.map { try Data(contentsOf: URL(fileURLWithPath: root + "/new/" + $0)) }
        #expect(Set(contents) == [Data(one.data), Data(two.data)])
        #expect(names.allSatisfy { !$0.contains("/") && !$0.contains(":") })
        // Opening an existing Maildir again is fine.
        _ = try MaildirOutbox(root: root)
    }

    @Test("A Maildir that cannot be written throws")
    func failure() throws {
        let root = temporaryPath("mail")
        let outbox = try MaildirOutbox(root: root)
        try FileManager.default.removeItem(atPath: root + "/tmp")
        #expect(throws: MaildirError.self) { try outbox.deliver(MailMessage(messageId: "<1@x>", to: "a@x.test", data: [0x41])) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/new").isEmpty)
        // A file where the root should be.
        let file = temporaryPath("file")
        _ = FileManager.default.createFile(atPath: file, contents: Data())
        #expect(throws: MaildirError.self) { try MaildirOutbox(root: file) }
    }

    @Test("The owner services write their e-mail into the Maildir")
    func withServices() throws {
        let bench = try Bench.provisioned()
        let root = temporaryPath("mail")
        let services = OwnerServices(repository: bench.repository, outbox: try MaildirOutbox(root: root),
                                     randomBytes: SeededRandom(seed: 99).bytes)
        let sent = try services.emailLink(vin: bench.vin, caller: alicePortal, date: testDate)
        let names = try FileManager.default.contentsOfDirectory(atPath: root + "/new")
        #expect(names.count == 1)
        let mail = try ParsedMail(Array(try Data(contentsOf: URL(fileURLWithPath: root + "/new/" + names[0]))))
        #expect(mail.headers["Message-ID"] == sent.messageId)
    }
}
