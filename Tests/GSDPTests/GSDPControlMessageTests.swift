import GSDP
import XCTest

final class GSDPControlMessageTests: XCTestCase {
    private let hash = String(repeating: "ab", count: 32)

    func testEncodesTheDesignForms() {
        XCTAssertEqual(GSDPControlMessage.hello(GSDPHello(tbm: "tbm-vcan1", serials: ["SPK0000000001"])).text,
                       #"{"hello":{"serials":["SPK0000000001"],"tbm":"tbm-vcan1"}}"#)
        XCTAssertEqual(GSDPControlMessage.welcome(GSDPWelcome(instance: "vos-1")).text, #"{"welcome":{"instance":"vos-1"}}"#)
        XCTAssertEqual(GSDPControlMessage.c2vAck(GSDPC2VAck(sha256: hash, outcome: .delivered)).text,
                       #"{"c2v":"\#(hash)","outcome":"delivered"}"#)
        XCTAssertEqual(GSDPControlMessage.c2vAck(GSDPC2VAck(sha256: hash, outcome: .notSent(reason: "TBM offline"))).text,
                       #"{"c2v":"\#(hash)","outcome":"not-sent","reason":"TBM offline"}"#)
    }

    func testRoundTrips() throws {
        let messages: [GSDPControlMessage] = [
            .hello(GSDPHello(tbm: "t/1 \"q\" é", serials: [])),
            .hello(GSDPHello(tbm: "t", serials: ["SPK0000000001", "SPK0000000002"])),
            .welcome(GSDPWelcome(instance: "vos-42")),
            .c2vAck(GSDPC2VAck(message: [1, 2, 3], outcome: .delivered)),
            .c2vAck(GSDPC2VAck(message: [], outcome: .notSent(reason: "N_As timeout"))),
        ]
        for message in messages { XCTAssertEqual(try GSDPControlMessage.decode(message.text), message) }
    }

    func testDecodesOtherKeyOrderAndWhiteSpace() throws {
        XCTAssertEqual(try GSDPControlMessage.decode(#" { "outcome" : "delivered", "c2v" : "\#(hash)" } "#),
                       .c2vAck(GSDPC2VAck(sha256: hash, outcome: .delivered)))
        XCTAssertEqual(try GSDPControlMessage.decode(#"{"hello":{"tbm":"x","serials":[]}}"#),
                       .hello(GSDPHello(tbm: "x", serials: [])))
    }

    func testSHA256HexOfKnownVectors() {
        XCTAssertEqual(GSDP.sha256Hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(GSDP.sha256Hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertTrue(GSDP.isSHA256Hex(GSDP.sha256Hex([9])))
        XCTAssertFalse(GSDP.isSHA256Hex(hash.uppercased()))
        XCTAssertFalse(GSDP.isSHA256Hex(String(hash.dropLast())))
    }

    func testRejectsEverythingElseWithATypedError() {
        let cases: [(String, GSDPControlError)] = [
            ("", .notJSON),
            ("not json", .notJSON),
            (#"{"hello":"#, .notJSON),
            ("[1,2]", .notAnObject),
            (#""hello""#, .notAnObject),
            ("{}", .unknownMessage([])),
            (#"{"bye":{}}"#, .unknownMessage(["bye"])),
            (#"{"hello":{"tbm":"x","serials":[]},"welcome":{"instance":"v"}}"#, .unknownMessage(["hello", "welcome"])),
            (#"{"hello":{"tbm":"x"}}"#, .malformed("hello keys [\"tbm\"], expected [\"serials\", \"tbm\"]")),
            (#"{"hello":{"tbm":"x","serials":[],"extra":1}}"#, .malformed("hello keys [\"extra\", \"serials\", \"tbm\"], expected [\"serials\", \"tbm\"]")),
            (#"{"hello":{"tbm":"","serials":[]}}"#, .malformed("hello.tbm is not a non-empty string")),
            (#"{"hello":{"tbm":1,"serials":[]}}"#, .malformed("hello.tbm is not a non-empty string")),
            (#"{"hello":{"tbm":"x","serials":"SPK"}}"#, .malformed("hello.serials is not an array")),
            (#"{"hello":{"tbm":"x","serials":[7]}}"#, .malformed("hello.serials[] is not a non-empty string")),
            (#"{"hello":[]}"#, .malformed("hello is not an object")),
            (#"{"welcome":{"instance":true}}"#, .malformed("welcome.instance is not a non-empty string")),
            (#"{"welcome":{}}"#, .malformed("welcome keys [], expected [\"instance\"]")),
            (#"{"c2v":"\#(hash)"}"#, .malformed("c2v ack keys [\"c2v\"]")),
            (#"{"c2v":"\#(hash)","outcome":"delivered","x":1}"#, .malformed("c2v ack keys [\"c2v\", \"outcome\", \"x\"]")),
            (#"{"c2v":"\#(hash.uppercased())","outcome":"delivered"}"#, .malformed("c2v is not a lowercase hex SHA-256")),
            (#"{"c2v":12,"outcome":"delivered"}"#, .malformed("c2v is not a lowercase hex SHA-256")),
            (#"{"c2v":"\#(hash)","outcome":"delivered","reason":"r"}"#, .malformed("reason with outcome delivered")),
            (#"{"c2v":"\#(hash)","outcome":"not-sent"}"#, .malformed("not-sent without a reason string")),
            (#"{"c2v":"\#(hash)","outcome":"not-sent","reason":3}"#, .malformed("not-sent without a reason string")),
            (#"{"c2v":"\#(hash)","outcome":"lost"}"#, .malformed("unknown outcome \"lost\"")),
            (#"{"c2v":"\#(hash)","outcome":false}"#, .malformed("outcome is not a string")),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try GSDPControlMessage.decode(text), text) { error in
                XCTAssertEqual(error as? GSDPControlError, expected, text)
            }
        }
    }

    func testRejectsOverlongText() {
        let text = #"{"hello":{"tbm":""# + String(repeating: "x", count: GSDPControlMessage.maxTextLength) + #"","serials":[]}}"#
        XCTAssertThrowsError(try GSDPControlMessage.decode(text)) { error in
            XCTAssertEqual(error as? GSDPControlError, .tooLong(text.utf8.count))
        }
    }

    func testSurvivesArbitraryBytes() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 0..<40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? GSDPControlMessage.decode(String(decoding: bytes, as: UTF8.self))
        }
        for prefix in [#"{"hello":{"tbm":"x","serials":["#, #"{"c2v":"#, #"{"welcome":{"instance":"#] {
            for junk in ["null", "{}", "[[[]]]", "1e999", "\"\\u0000\"", "-0"] {
                _ = try? GSDPControlMessage.decode(prefix + junk + "}}")
            }
        }
    }
}
