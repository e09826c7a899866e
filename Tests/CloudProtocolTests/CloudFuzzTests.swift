import SpaakCore
import CloudProtocol
import Testing

/// Random input never crashes the decoder or the verifier, and is never accepted.
@Suite("Cloud message codec: fuzz")
struct CloudFuzzTests {
    static let expectation = C2VExpectation(
        responseTypes: Set(CloudMessageType.allCases.filter { $0.direction == .cloudToVehicle }),
        outstandingTransactionID: Fixtures.transactionID,
        pushTypes: [.spake2VerifierProvisioning, .ownerKeyTermination])

    static func verify(_ bytes: [UInt8]) -> C2VVerdict {
        C2VVerifier.verify(bytes, expectation: expectation, lastCounter: 1, serial: Fixtures.serial, trust: Fixtures.trust())
    }

    @Test("random bytes")
    func randomBytes() {
        var rng = SplitMix64(state: 0x5EED_0001)
        var decoded = 0
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...300, using: &rng)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Half of the inputs start like a message, to get past the first checks.
            if Bool.random(using: &rng), bytes.count > 8 { bytes.replaceSubrange(0..<8, with: [1, 0, 1, 2, 2, 0, 1, 1]) }
            if (try? CloudMessage.decode(bytes)) != nil { decoded += 1 }
            #expect(Self.verify(bytes).message == nil)
        }
        #expect(decoded == 0)
    }

    @Test("mutations of valid signed messages")
    func mutations() throws {
        var rng = SplitMix64(state: 0x5EED_0002)
        let originals = try Fixtures.payloads.filter { $0.type.direction == .cloudToVehicle }.map { try Fixtures.c2v($0) }
        for original in originals {
            #expect(Self.verify(original).message != nil)  // the mutation is what breaks it
        }
        var tried = 0
        for _ in 0..<20_000 {
            var bytes = originals[Int.random(in: 0..<originals.count, using: &rng)]
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let index = Int.random(in: 0..<max(bytes.count, 1), using: &rng)
                switch Int.random(in: 0..<5, using: &rng) {
                case 0 where !bytes.isEmpty: bytes[index] ^= UInt8.random(in: 1...255, using: &rng)
                case 1 where !bytes.isEmpty: bytes.remove(at: index)
                case 2: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: min(index, bytes.count))
                case 3: bytes = Array(bytes.prefix(index))
                default: if !bytes.isEmpty { bytes[index] = [0x00, 0x01, 0xFF, 0x7F, 0x80][Int.random(in: 0..<5, using: &rng)] }
                }
            }
            guard !originals.contains(bytes) else { continue }
            tried += 1
            _ = try? CloudMessage.decode(bytes)
            #expect(Self.verify(bytes).message == nil)
        }
        #expect(tried > 19_000)
    }
}
