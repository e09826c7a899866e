import OwnerServices
import Testing
@testable import OwnerAPI

@Suite("Portal forms")
struct PortalFormTests {
    private func parse(_ text: String, limit: Int = PortalForm.maximumBodySize) throws(PortalFormError) -> PortalForm {
        try PortalForm.parse(Array(text.utf8), limit: limit)
    }

    @Test("fields are decoded: + is a space, %XX a byte, UTF-8")
    func decodes() throws {
        let form = try parse("user=alice&role=customer&note=a+b%2Bc%C3%A9&empty=&flag")
        #expect(form.fields == ["user": "alice", "role": "customer", "note": "a b+cé", "empty": "", "flag": ""])
    }

    @Test("an empty body has no fields; empty pairs are skipped")
    func emptyBody() throws {
        #expect(try parse("").fields.isEmpty)
        #expect(try parse("&&vin=X&").fields == ["vin": "X"])
    }

    @Test("bad percent escapes are refused", arguments: ["a=%", "a=%4", "a=%G1", "a=%4g", "%=1", "a=b%"])
    func badEscape(_ body: String) {
        #expect(throws: PortalFormError("the form has a bad percent escape")) { try parse(body) }
    }

    @Test("bytes that are not UTF-8 are refused")
    func notUTF8() {
        #expect(throws: PortalFormError("the form is not UTF-8")) { try parse("user=%FF%FE") }
        #expect(throws: PortalFormError("the form is not UTF-8")) { try PortalForm.parse([0x61, 0x3D, 0xC3]) }
    }

    @Test("a repeated field is refused, a field without a name too")
    func repeatedField() {
        #expect(throws: PortalFormError("the form field 'role' is given more than once")) {
            try parse("role=customer&role=agent")
        }
        #expect(throws: PortalFormError("the form field 'role' is given more than once")) {
            try parse("role=customer&r%6Fle=agent")
        }
        #expect(throws: PortalFormError("a form field has no name")) { try parse("=x") }
    }

    @Test("the size limit holds to the byte")
    func sizeLimit() throws {
        let body = "vin=" + String(repeating: "A", count: 12)
        #expect(try parse(body, limit: 16).fields["vin"]?.count == 12)
        #expect(throws: PortalFormError("the form is larger than 15 bytes")) { try parse(body, limit: 15) }
        let big = [UInt8](repeating: UInt8(ascii: "a"), count: PortalForm.maximumBodySize + 1)
        #expect(throws: PortalFormError.self) { try PortalForm.parse(big) }
    }

    @Test("a missing or empty required field is refused; unknown fields are ignored")
    func required() throws {
        let form = try parse("vin=&user=bob&extra=1")
        #expect(try form.required("user") == "bob")
        #expect(throws: PortalFormError("the form field 'vin' is missing")) { try form.required("vin") }
        #expect(throws: PortalFormError("the form field 'role' is missing")) { try form.required("role") }
    }

    @Test("a field name in a message is printable ASCII and short")
    func nameInMessage() {
        #expect(throws: PortalFormError("the form field '<b>?' is given more than once")) {
            try parse("%3Cb%3E%0A=1&%3Cb%3E%0A=2")
        }
    }

    @Test("sign-in: customer is the role portal, agent hotline; the user name is checked")
    func signIn() throws {
        let customer = try PortalSignIn(form: parse("user=alice&role=customer"))
        #expect(customer == PortalSignIn(user: "alice", role: .portal))
        #expect(customer.landingPath == "/portal/vehicles")
        let agent = try PortalSignIn(form: parse("user=agent.7&role=agent&remember=1"))
        #expect(agent == PortalSignIn(user: "agent.7", role: .hotline))
        #expect(agent.landingPath == "/portal/hotline")
        #expect(throws: PortalFormError("the role is 'customer' or 'agent'")) {
            try PortalSignIn(form: parse("user=alice&role=owner"))
        }
        #expect(throws: PortalFormError("the form field 'role' is missing")) { try PortalSignIn(form: parse("user=alice")) }
        #expect(throws: PortalFormError("the form field 'user' is missing")) { try PortalSignIn(form: parse("role=agent")) }
        #expect(throws: PortalFormError.self) { try PortalSignIn(form: parse("user=Alice&role=customer")) }
    }

    @Test("user names follow ^[a-z0-9][a-z0-9._-]{0,63}$")
    func userNames() {
        for good in ["a", "0", "alice", "a.b_c-d", "9lives", String(repeating: "z", count: 64)] {
            #expect(PortalSignIn.isValidUser(good), "\(good)")
        }
        for bad in ["", ".a", "-a", "_a", "Alice", "al ice", "al/ice", "<script>", "é", String(repeating: "z", count: 65)] {
            #expect(!PortalSignIn.isValidUser(bad), "\(bad)")
        }
    }
}
