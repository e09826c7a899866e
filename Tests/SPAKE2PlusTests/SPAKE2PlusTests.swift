import CloudProtocol
import Crypto
import SpaakCore
import Testing

@testable import SPAKE2Plus

/// Hex without spaces or case constraints, for the vectors as the ICD prints them.
private func bytes(_ hex: String) -> [UInt8] { [UInt8](hex: hex.filter { !$0.isWhitespace }) ?? [] }

/// RFC 9383 appendix C (P-256), as ICD 8.4 reproduces it.
enum RFCVector {
    static let identities = SPAKE2PlusIdentities(
        context: Array("SPAKE2+-P256-SHA256-HKDF-SHA256-HMAC-SHA256 Test Vectors".utf8),
        idProver: Array("client".utf8), idVerifier: Array("server".utf8))
    static let w0 = bytes("bb8e1bbcf3c48f62c08db243652ae55d3e5586053fca77102994f23ad95491b3")
    static let w1 = bytes("7e945f34d78785b8a3ef44d0df5a1a97d6b3b460409a345ca7830387a74b1dba")
    static let x = bytes("d1232c8e8693d02368976c174e2088851b8365d0d79a9eee709c6a05a2fad539")
    static let y = bytes("717a72348a182085109c8d3917d6c43d59b224dc6a7fc4f0483232fa6516d8b3")
    static let l = bytes("""
        04eb7c9db3d9a9eb1f8adab81b5794c1f13ae3e225efbe91ea487425854c7fc00f
        00bfedcbd09b2400142d40a14f2064ef31dfaa903b91d1faea7093d835966efd
        """)
    static let shareP = bytes("""
        04ef3bd051bf78a2234ec0df197f7828060fe9856503579bb1733009042c15c0c1
        de127727f418b5966afadfdd95a6e4591d171056b333dab97a79c7193e341727
        """)
    static let shareV = bytes("""
        04c0f65da0d11927bdf5d560c69e1d7d939a05b0e88291887d679fcadea75810fb
        5cc1ca7494db39e82ff2f50665255d76173e09986ab46742c798a9a68437b048
        """)
    static let kMain = bytes("4c59e1ccf2cfb961aa31bd9434478a1089b56cd11542f53d3576fb6c2a438a29")
    static let confirmP = bytes("926cc713504b9b4d76c9162ded04b5493e89109f6d89462cd33adc46fda27527")
    static let confirmV = bytes("9747bcc4f8fe9f63defee53ac9b07876d907d55047e6ff2def2e7529089d3e68")
    static let kShared = bytes("0c5f8ccd1413423a54f6c1fb26ff01534a87f893779c6e68666d772bfd91f3e7")
}

/// ICD 8.4: the section 7.6 inputs, VIN VF3ABCDEF12345678, x = SHA-256("x"), y = SHA-256("y") mod n.
enum ICDVector {
    static let vin = Array("VF3ABCDEF12345678".utf8)
    static let password = Array("0123456789012".utf8)
    static let salt = [UInt8](0...15)
    static let w0 = bytes("b3e75cb2b47ff7bfcc46187edf15b61103ded2a0d683a18ab3873a71f5704d1b")  // ICD 7.6
    static let l = bytes("""
        0438186240a99f81034d718c162bb8404dcce6e0d1a1414b6ac36288db9a6d8d05
        d63e4ce303463331668c445773d17d2d3842f2d3bc2d008dfd73ffa79eaae04a
        """)  // ICD 7.6
    static let w1 = bytes("f056b7f218659112abadabffd53a736681e783930656757327afbf45632ba5f5")
    static let x = bytes("2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881")
    static let y = bytes("a1fce4363854ff888cff4b8e7875d600c2682390412a8cf79b37d0b11148b0fa")
    static let shareP = bytes("""
        04508032e32280ac0f0c6a66754b957a7464292d4cbd2f9c9cbd0f0038ace3fd7e
        7a006f3b3ee93753907eea820d8d9b16fcbe87a71d2c5607e65bcf2d5764dc55
        """)
    static let shareV = bytes("""
        04956e3ae2bc3af27c0b41ed3b1afd364214b39ca21ecf419f1d17b410d1f08ba8
        e71d116d7900fd15480e3fd47a8f769dba72006a5795e7aa2055f183e03000c9
        """)
    static let z = bytes("""
        0444006b1022da6275c58d17ef828e3dbc71f450fddafb0d86bc6892560c6dfb3f
        7b541aab4adaa2e9e584641af8489591a33959e68768052e330041544e5f725b
        """)
    static let v = bytes("""
        04624360350853d5249be772e55d7f19b5d37324902435f2724276ea1e58faf82d
        203eea044865117e390767201e3ef1c7d17c4f39317bcf222d55b53247935dcb
        """)
    static let kMain = bytes("c9a30fd3657676d819c2c8c2747976ea4f2be36d4c101ffd84cb6b59152b04fd")
    static let confirmP = bytes("d810af99e3d201886df3197080c02a0434ac8be46d49f5d90b24e017036faacd")
    static let confirmV = bytes("ea4335f7548b164a3cca00e53f119d8b44bf51ce9d8a44eb5d10614a3975bfb8")
    static let kShared = bytes("0cdfa3827e026b5a2c40a5fecd64ef4be282e228d729eba314b92e18222a315c")
    static let kEnc = bytes("030944ad36e8f388442284f21ee0eaea")
    static let sealed = bytes("f07610094abc6a7c02a897882f0a6f2d413820e3cd511ba86b17f07be1f3")
}

@Suite("SPAKE2+ (RFC 9383, P256-SHA256-HKDF-SHA256-HMAC-SHA256; ICD 8.4)")
struct SPAKE2PlusTests {
    @Test("RFC 9383 appendix C vector: L, shareP, shareV, K_main, confirmP, confirmV, K_shared")
    func rfcVector() throws {
        let v = RFCVector.self
        #expect(try P256Point.generatorMultiple(P256Scalar(bytes: v.w1)).uncompressed == v.l)
        let prover = try SPAKE2PlusProver(identities: v.identities, w0: v.w0, w1: v.w1, x: P256Scalar(bytes: v.x))
        #expect(prover.shareP == v.shareP)
        let verifier = try SPAKE2PlusVerifier(identities: v.identities, w0: v.w0, l: v.l, shareP: prover.shareP,
                                              y: P256Scalar(bytes: v.y))
        #expect(verifier.shareV == v.shareV)
        #expect(verifier.schedule.kMain == v.kMain)
        #expect(verifier.confirmV == v.confirmV)
        let result = try prover.finish(shareV: verifier.shareV, confirmV: verifier.confirmV)
        #expect(result.schedule.kMain == v.kMain)
        #expect(result.z == verifier.z && result.v == verifier.v)
        #expect(result.confirmP == v.confirmP)
        #expect(result.sharedKey == v.kShared)
        #expect(try verifier.confirm(confirmP: result.confirmP) == v.kShared)
    }

    @Test("ICD 8.4 vector: w0/w1/L by the section 7.6 derivation, shares, Z, V, keys, K_enc, AES-GCM")
    func icdVector() throws {
        let v = ICDVector.self
        let secrets = try SpakeVerifierDerivation.derive(password: v.password, salt: v.salt, n: 4096, r: 8, p: 1)
        #expect(secrets.w0 == v.w0)
        #expect(secrets.w1 == v.w1)
        #expect(secrets.l == v.l)
        let x = try P256Scalar(reducing: Array(SHA256.hash(data: Array("x".utf8))))
        let y = try P256Scalar(reducing: Array(SHA256.hash(data: Array("y".utf8))))
        #expect(x.bytes == v.x && y.bytes == v.y)

        let identities = SPAKE2PlusIdentities.ownerPairing(vin: v.vin)
        let prover = try SPAKE2PlusProver(identities: identities, w0: secrets.w0, w1: secrets.w1, x: x)
        #expect(prover.shareP == v.shareP)
        let verifier = try SPAKE2PlusVerifier(identities: identities, w0: secrets.w0, l: secrets.l, shareP: prover.shareP, y: y)
        #expect(verifier.shareV == v.shareV)
        #expect(verifier.z == v.z)
        #expect(verifier.v == v.v)
        #expect(verifier.schedule.kMain == v.kMain)
        #expect(verifier.confirmV == v.confirmV)
        let result = try prover.finish(shareV: verifier.shareV, confirmV: verifier.confirmV)
        #expect(result.z == v.z && result.v == v.v)
        #expect(result.confirmP == v.confirmP)
        #expect(result.sharedKey == v.kShared)
        let kShared = try verifier.confirm(confirmP: result.confirmP)
        #expect(kShared == v.kShared)

        let encryption = PairingEncryption(sharedKey: kShared)
        #expect(encryption.key == v.kEnc)
        #expect(PairingEncryption.nonce(direction: .moduleToDevice, counter: 1).hexString == "010000000000000000000001")
        let sealed = try encryption.seal(Array("owner endpoint".utf8), direction: .moduleToDevice, counter: 1)
        #expect(sealed == v.sealed)
        #expect(try encryption.open(sealed, direction: .moduleToDevice, counter: 1) == Array("owner endpoint".utf8))
    }

    @Test("pairing encryption: wrong direction, counter or a flipped bit does not open")
    func encryptionFailures() throws {
        let encryption = PairingEncryption(sharedKey: ICDVector.kShared)
        let sealed = ICDVector.sealed
        #expect(throws: (any Error).self) { try encryption.open(sealed, direction: .deviceToModule, counter: 1) }
        #expect(throws: (any Error).self) { try encryption.open(sealed, direction: .moduleToDevice, counter: 2) }
        var flipped = sealed
        flipped[flipped.count - 1] ^= 0x01
        #expect(throws: (any Error).self) { try encryption.open(flipped, direction: .moduleToDevice, counter: 1) }
        #expect(throws: (any Error).self) { try encryption.open(Array(sealed.prefix(15)), direction: .moduleToDevice, counter: 1) }
    }

    @Test("random x and y: both sides agree on K_shared; a wrong password fails confirmV at the prover")
    func roundTrip() throws {
        let v = RFCVector.self
        let prover = try SPAKE2PlusProver(identities: v.identities, w0: v.w0, w1: v.w1)
        let verifier = try SPAKE2PlusVerifier(identities: v.identities, w0: v.w0, l: v.l, shareP: prover.shareP)
        #expect(verifier.shareV != v.shareV)
        let result = try prover.finish(shareV: verifier.shareV, confirmV: verifier.confirmV)
        #expect(try verifier.confirm(confirmP: result.confirmP) == result.sharedKey)

        // A prover with another password (other w0 and w1) against the stored w0 and L.
        let wrong = try SPAKE2PlusProver(identities: v.identities, w0: ICDVector.w0, w1: ICDVector.w1)
        let answer = try SPAKE2PlusVerifier(identities: v.identities, w0: v.w0, l: v.l, shareP: wrong.shareP)
        #expect(throws: SPAKE2PlusError.confirmationMismatch) {
            try wrong.finish(shareV: answer.shareV, confirmV: answer.confirmV)
        }
        // Nor does the module accept a guess of confirmP: the one of an honest earlier session.
        #expect(throws: SPAKE2PlusError.confirmationMismatch) { try answer.confirm(confirmP: result.confirmP) }
        // The same identities must be used on both sides.
        let other = try SPAKE2PlusVerifier(identities: .ownerPairing(vin: ICDVector.vin), w0: v.w0, l: v.l, shareP: prover.shareP)
        #expect(throws: SPAKE2PlusError.confirmationMismatch) {
            try prover.finish(shareV: other.shareV, confirmV: other.confirmV)
        }
    }

    @Test("the verifier refuses an off-curve X, the identity, a compressed X, X = w0·M")
    func invalidShareP() throws {
        let v = RFCVector.self
        let y = try P256Scalar(bytes: v.y)
        func respond(_ shareP: [UInt8]) throws(SPAKE2PlusError) -> SPAKE2PlusVerifier {
            try SPAKE2PlusVerifier(identities: v.identities, w0: v.w0, l: v.l, shareP: shareP, y: y)
        }
        var offCurve = v.shareP
        offCurve[64] ^= 0x01
        #expect(throws: SPAKE2PlusError.invalidShare(.notOnCurve)) { try respond(offCurve) }
        #expect(throws: SPAKE2PlusError.invalidShare(.notOnCurve)) { try respond([0x04] + [UInt8](repeating: 0, count: 64)) }
        #expect(throws: SPAKE2PlusError.invalidShare(.wrongLength(1, expected: 65))) { try respond([0x00]) }
        #expect(throws: SPAKE2PlusError.invalidShare(.wrongLength(0, expected: 65))) { try respond([]) }
        #expect(throws: SPAKE2PlusError.invalidShare(.wrongLength(66, expected: 65))) { try respond(v.shareP + [0x00]) }
        var compressed = Array(v.shareP[0..<33])
        compressed[0] = 0x02 | (v.shareP[64] & 1)
        #expect(throws: SPAKE2PlusError.invalidShare(.wrongLength(33, expected: 65))) { try respond(compressed) }
        // X = w0·M (x = 0): X − w0·M is the identity, Z and V would be too.
        let masked = try SPAKE2Plus.m.multiplied(by: P256Scalar(bytes: v.w0)).uncompressed
        #expect(throws: SPAKE2PlusError.degenerateShare) { try respond(masked) }
    }

    @Test("the prover refuses an invalid Y and a wrong confirmV; the verifier a wrong confirmP")
    func wrongConfirmations() throws {
        let v = RFCVector.self
        let prover = try SPAKE2PlusProver(identities: v.identities, w0: v.w0, w1: v.w1, x: P256Scalar(bytes: v.x))
        let verifier = try SPAKE2PlusVerifier(identities: v.identities, w0: v.w0, l: v.l, shareP: prover.shareP,
                                              y: P256Scalar(bytes: v.y))
        var badY = verifier.shareV
        badY[40] ^= 0x80
        #expect(throws: SPAKE2PlusError.invalidShare(.notOnCurve)) { try prover.finish(shareV: badY, confirmV: v.confirmV) }
        let maskedN = try SPAKE2Plus.n.multiplied(by: P256Scalar(bytes: v.w0)).uncompressed
        #expect(throws: SPAKE2PlusError.degenerateShare) { try prover.finish(shareV: maskedN, confirmV: v.confirmV) }
        var badConfirmV = v.confirmV
        badConfirmV[0] ^= 0x01
        #expect(throws: SPAKE2PlusError.confirmationMismatch) { try prover.finish(shareV: verifier.shareV, confirmV: badConfirmV) }
        #expect(throws: SPAKE2PlusError.confirmationMismatch) { try prover.finish(shareV: verifier.shareV, confirmV: []) }

        var badConfirmP = v.confirmP
        badConfirmP[31] ^= 0x01
        #expect(throws: SPAKE2PlusError.confirmationMismatch) { try verifier.confirm(confirmP: badConfirmP) }
        #expect(throws: SPAKE2PlusError.confirmationMismatch) { try verifier.confirm(confirmP: v.confirmV) }
        #expect(throws: SPAKE2PlusError.confirmationMismatch) { try verifier.confirm(confirmP: Array(v.confirmP.prefix(16))) }
        #expect(throws: SPAKE2PlusError.confirmationMismatch) { try verifier.confirm(confirmP: []) }
        #expect(try verifier.confirm(confirmP: v.confirmP) == v.kShared)
    }

    @Test("invalid secrets: w0 or w1 out of range, L off the curve")
    func invalidSecrets() throws {
        let v = RFCVector.self
        let zero = [UInt8](repeating: 0, count: 32)
        #expect(throws: SPAKE2PlusError.invalidSecret(.scalarOutOfRange)) {
            try SPAKE2PlusProver(identities: v.identities, w0: zero, w1: v.w1)
        }
        #expect(throws: SPAKE2PlusError.invalidSecret(.scalarOutOfRange)) {
            try SPAKE2PlusProver(identities: v.identities, w0: v.w0, w1: P256Scalar.order)
        }
        #expect(throws: SPAKE2PlusError.invalidSecret(.scalarOutOfRange)) {
            try SPAKE2PlusVerifier(identities: v.identities, w0: zero, l: v.l, shareP: v.shareP)
        }
        var badL = v.l
        badL[10] ^= 0x01
        #expect(throws: SPAKE2PlusError.invalidSecret(.notOnCurve)) {
            try SPAKE2PlusVerifier(identities: v.identities, w0: v.w0, l: badL, shareP: v.shareP)
        }
    }

    @Test("TT layout: lengths 8 bytes little-endian, M and N uncompressed, w0 last")
    func transcriptLayout() throws {
        let tt = SPAKE2Plus.transcript(identities: SPAKE2PlusIdentities(context: [0xAA], idProver: [], idVerifier: [0xBB, 0xCC]),
                                       shareP: [1], shareV: [2], z: [3], v: [4], w0: [5])
        let prefix: [UInt8] = [1, 0, 0, 0, 0, 0, 0, 0, 0xAA] + [UInt8](repeating: 0, count: 8) + [2, 0, 0, 0, 0, 0, 0, 0, 0xBB, 0xCC]
            + [65, 0, 0, 0, 0, 0, 0, 0]
        #expect(Array(tt.prefix(prefix.count)) == prefix)
        #expect(Array(tt[prefix.count..<(prefix.count + 65)]) == SPAKE2Plus.m.uncompressed)
        #expect(tt.count == prefix.count + 65 + 8 + 65 + 5 * 9)
        #expect(Array(tt.suffix(9)) == [1, 0, 0, 0, 0, 0, 0, 0, 5])
    }
}
