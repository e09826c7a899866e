import Crypto

/// Why a SPAKE2+ step fails (RFC 9383; ICD 8.3 lists which of them count as failed attempts).
public enum SPAKE2PlusError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The peer's share (X for the verifier, Y for the prover) is not an uncompressed point of
    /// P-256 other than the identity.
    case invalidShare(P256ArithmeticError)
    /// The peer's share minus the password's mask (X − w0·M or Y − w0·N) is the identity:
    /// Z and V would carry nothing secret.
    case degenerateShare
    /// w0, w1 or the random scalar is not in [1, n − 1], or L is not a point of P-256.
    case invalidSecret(P256ArithmeticError)
    /// The peer's confirmation MAC (confirmP or confirmV) does not verify.
    case confirmationMismatch
    /// The point arithmetic failed inside libcrypto.
    case arithmetic(P256ArithmeticError)

    /// The fault in words.
    public var description: String {
        switch self {
        case .invalidShare(let error): return "invalid share: \(error)"
        case .degenerateShare: return "share minus mask is the identity"
        case .invalidSecret(let error): return "invalid secret: \(error)"
        case .confirmationMismatch: return "confirmation MAC does not verify"
        case .arithmetic(let error): return "point arithmetic: \(error)"
        }
    }
}

/// What both sides bind into the transcript besides the shares (RFC 9383 section 3.3).
public struct SPAKE2PlusIdentities: Sendable, Hashable {
    /// Context: ICD 8.4 uses "SpaaK owner pairing v1".
    public var context: [UInt8]
    /// idProver: "device" in ICD 8.4.
    public var idProver: [UInt8]
    /// idVerifier: the VIN (17 ASCII bytes) in ICD 8.4.
    public var idVerifier: [UInt8]

    public init(context: [UInt8], idProver: [UInt8], idVerifier: [UInt8]) {
        self.context = context
        self.idProver = idProver
        self.idVerifier = idVerifier
    }

    /// ICD 8.4: Context "SpaaK owner pairing v1", idProver "device", idVerifier the VIN.
    public static func ownerPairing(vin: [UInt8]) -> SPAKE2PlusIdentities {
        SPAKE2PlusIdentities(context: Array("SpaaK owner pairing v1".utf8), idProver: Array("device".utf8), idVerifier: vin)
    }
}

/// The RFC 9383 key schedule of one run: K_main = SHA-256(TT);
/// K_confirmP ‖ K_confirmV = HKDF-SHA256(salt empty, K_main, "ConfirmationKeys", 64);
/// K_shared = HKDF-SHA256(salt empty, K_main, "SharedKey", 32);
/// confirmP = HMAC(K_confirmP, shareV); confirmV = HMAC(K_confirmV, shareP).
struct SPAKE2PlusKeySchedule: Sendable {
    var kMain: [UInt8]
    var kConfirmP: [UInt8]
    var kConfirmV: [UInt8]
    var kShared: [UInt8]
    var confirmP: [UInt8]
    var confirmV: [UInt8]

    init(transcript: [UInt8], shareP: [UInt8], shareV: [UInt8]) {
        kMain = Array(SHA256.hash(data: transcript))
        let prk = SymmetricKey(data: kMain)
        let confirmation = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: prk, salt: [UInt8](), info: Array("ConfirmationKeys".utf8), outputByteCount: 64)
        let confirmationBytes = confirmation.withUnsafeBytes { Array($0) }
        kConfirmP = Array(confirmationBytes[0..<32])
        kConfirmV = Array(confirmationBytes[32..<64])
        kShared = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: prk, salt: [UInt8](), info: Array("SharedKey".utf8), outputByteCount: 32
        ).withUnsafeBytes { Array($0) }
        confirmP = Array(HMAC<SHA256>.authenticationCode(for: shareV, using: SymmetricKey(data: kConfirmP)))
        confirmV = Array(HMAC<SHA256>.authenticationCode(for: shareP, using: SymmetricKey(data: kConfirmV)))
    }
}

/// SPAKE2+ for the ciphersuite P256-SHA256-HKDF-SHA256-HMAC-SHA256 (RFC 9383), as ICD 8.4 uses
/// it: the constants and the transcript; `SPAKE2PlusProver` and `SPAKE2PlusVerifier` are the two
/// sides. Pure: no I/O, randomness only where a scalar is not given.
public enum SPAKE2Plus {
    /// M for P-256 (RFC 9383 section 4, RFC 9382), uncompressed; the RFC gives it compressed:
    /// 02886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f.
    public static let m = P256Point(trusted: [
        0x04, 0x88, 0x6E, 0x2F, 0x97, 0xAC, 0xE4, 0x6E, 0x55, 0xBA, 0x9D, 0xD7, 0x24, 0x25, 0x79, 0xF2,
        0x99, 0x3B, 0x64, 0xE1, 0x6E, 0xF3, 0xDC, 0xAB, 0x95, 0xAF, 0xD4, 0x97, 0x33, 0x3D, 0x8F, 0xA1,
        0x2F, 0x5F, 0xF3, 0x55, 0x16, 0x3E, 0x43, 0xCE, 0x22, 0x4E, 0x0B, 0x0E, 0x65, 0xFF, 0x02, 0xAC,
        0x8E, 0x5C, 0x7B, 0xE0, 0x94, 0x19, 0xC7, 0x85, 0xE0, 0xCA, 0x54, 0x7D, 0x55, 0xA1, 0x2E, 0x2D,
        0x20,
    ])

    /// N for P-256, uncompressed; compressed in the RFC:
    /// 03d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49.
    public static let n = P256Point(trusted: [
        0x04, 0xD8, 0xBB, 0xD6, 0xC6, 0x39, 0xC6, 0x29, 0x37, 0xB0, 0x4D, 0x99, 0x7F, 0x38, 0xC3, 0x77,
        0x07, 0x19, 0xC6, 0x29, 0xD7, 0x01, 0x4D, 0x49, 0xA2, 0x4B, 0x4F, 0x98, 0xBA, 0xA1, 0x29, 0x2B,
        0x49, 0x07, 0xD6, 0x0A, 0xA6, 0xBF, 0xAD, 0xE4, 0x50, 0x08, 0xA6, 0x36, 0x33, 0x7F, 0x51, 0x68,
        0xC6, 0x4D, 0x9B, 0xD3, 0x60, 0x34, 0x80, 0x8C, 0xD5, 0x64, 0x49, 0x0B, 0x1E, 0x65, 0x6E, 0xDB,
        0xE7,
    ])

    /// TT (RFC 9383 section 3.3): each of Context, idProver, idVerifier, M, N, shareP, shareV,
    /// Z, V, w0 preceded by its length as 8 bytes little-endian; points uncompressed, w0 as
    /// 32 bytes big-endian.
    static func transcript(identities: SPAKE2PlusIdentities, shareP: [UInt8], shareV: [UInt8],
                           z: [UInt8], v: [UInt8], w0: [UInt8]) -> [UInt8] {
        var tt: [UInt8] = []
        for part in [identities.context, identities.idProver, identities.idVerifier, m.uncompressed, n.uncompressed,
                     shareP, shareV, z, v, w0] {
            withUnsafeBytes(of: UInt64(part.count).littleEndian) { tt.append(contentsOf: $0) }
            tt.append(contentsOf: part)
        }
        return tt
    }

    /// `share − w0·mask`, refusing the identity (`.degenerateShare`).
    static func unmask(_ share: P256Point, mask: P256Point, w0: P256Scalar) throws(SPAKE2PlusError) -> P256Point {
        do throws(P256ArithmeticError) {
            return try share.subtracting(try mask.multiplied(by: w0))
        } catch .identity {
            throw .degenerateShare
        } catch {
            throw .arithmetic(error)
        }
    }

    static func scalar(_ bytes: [UInt8]) throws(SPAKE2PlusError) -> P256Scalar {
        do throws(P256ArithmeticError) { return try P256Scalar(bytes: bytes) } catch { throw .invalidSecret(error) }
    }

    static func arithmetic<T>(_ body: () throws(P256ArithmeticError) -> T) throws(SPAKE2PlusError) -> T {
        do throws(P256ArithmeticError) { return try body() } catch { throw .arithmetic(error) }
    }
}

/// The prover (the owner's device in ICD 8): holds w0 and w1, sends shareP = X = x·G + w0·M,
/// then checks the verifier's confirmV and answers confirmP.
public struct SPAKE2PlusProver: Sendable {
    /// Context and identities.
    public let identities: SPAKE2PlusIdentities
    /// shareP = X, 65 bytes uncompressed: what the prover sends first.
    public let shareP: [UInt8]
    let w0: P256Scalar
    let w1: P256Scalar
    let x: P256Scalar

    /// Computes X; `x` is random unless given (test vectors only).
    public init(identities: SPAKE2PlusIdentities, w0: [UInt8], w1: [UInt8], x: P256Scalar? = nil) throws(SPAKE2PlusError) {
        self.identities = identities
        self.w0 = try SPAKE2Plus.scalar(w0)
        self.w1 = try SPAKE2Plus.scalar(w1)
        let x = x ?? .random()
        self.x = x
        let w0Scalar = self.w0
        shareP = try SPAKE2Plus.arithmetic { () throws(P256ArithmeticError) -> [UInt8] in
            try P256Point.generatorMultiple(x).adding(try SPAKE2Plus.m.multiplied(by: w0Scalar)).uncompressed
        }
    }

    /// Takes the verifier's shareV (Y) and confirmV: validates Y, computes Z = x·(Y − w0·N),
    /// V = w1·(Y − w0·N), the key schedule, and checks confirmV (constant time).
    public func finish(shareV: [UInt8], confirmV: [UInt8]) throws(SPAKE2PlusError) -> SPAKE2PlusProverResult {
        let y: P256Point
        do throws(P256ArithmeticError) { y = try P256Point(uncompressed: shareV) } catch { throw .invalidShare(error) }
        let unmasked = try SPAKE2Plus.unmask(y, mask: SPAKE2Plus.n, w0: w0)
        let (x, w1) = (self.x, self.w1)
        let z = try SPAKE2Plus.arithmetic { () throws(P256ArithmeticError) -> [UInt8] in try unmasked.multiplied(by: x).uncompressed }
        let v = try SPAKE2Plus.arithmetic { () throws(P256ArithmeticError) -> [UInt8] in try unmasked.multiplied(by: w1).uncompressed }
        let tt = SPAKE2Plus.transcript(identities: identities, shareP: shareP, shareV: shareV, z: z, v: v, w0: w0.bytes)
        let schedule = SPAKE2PlusKeySchedule(transcript: tt, shareP: shareP, shareV: shareV)
        guard HMAC<SHA256>.isValidAuthenticationCode(confirmV, authenticating: shareP,
                                                      using: SymmetricKey(data: schedule.kConfirmV)) else {
            throw .confirmationMismatch
        }
        return SPAKE2PlusProverResult(confirmP: schedule.confirmP, sharedKey: schedule.kShared, z: z, v: v, schedule: schedule)
    }
}

/// The prover's outcome once confirmV verified.
public struct SPAKE2PlusProverResult: Sendable {
    /// confirmP, 32 bytes: the prover's answer.
    public let confirmP: [UInt8]
    /// K_shared, 32 bytes.
    public let sharedKey: [UInt8]
    let z: [UInt8]
    let v: [UInt8]
    let schedule: SPAKE2PlusKeySchedule
}

/// The verifier (the module in ICD 8): holds w0 and L; from the prover's shareP (X) computes
/// shareV = Y = y·G + w0·N and confirmV, sent together, and then checks confirmP.
public struct SPAKE2PlusVerifier: Sendable {
    /// shareV = Y, 65 bytes uncompressed.
    public let shareV: [UInt8]
    /// confirmV, 32 bytes.
    public let confirmV: [UInt8]
    let z: [UInt8]
    let v: [UInt8]
    let schedule: SPAKE2PlusKeySchedule

    /// Validates X (65 bytes, `04` ‖ x ‖ y, on P-256 — the identity has no such encoding)
    /// before anything else, then computes Y, Z = y·(X − w0·M), V = y·L and the key schedule.
    /// `y` is random unless given (test vectors only).
    public init(identities: SPAKE2PlusIdentities, w0: [UInt8], l: [UInt8], shareP: [UInt8],
                y: P256Scalar? = nil) throws(SPAKE2PlusError) {
        let x: P256Point
        do throws(P256ArithmeticError) { x = try P256Point(uncompressed: shareP) } catch { throw .invalidShare(error) }
        let w0Scalar = try SPAKE2Plus.scalar(w0)
        let lPoint: P256Point
        do throws(P256ArithmeticError) { lPoint = try P256Point(uncompressed: l) } catch { throw .invalidSecret(error) }
        let y = y ?? .random()
        let unmasked = try SPAKE2Plus.unmask(x, mask: SPAKE2Plus.m, w0: w0Scalar)
        let (shareV, z, v) = try SPAKE2Plus.arithmetic { () throws(P256ArithmeticError) -> ([UInt8], [UInt8], [UInt8]) in
            (try P256Point.generatorMultiple(y).adding(try SPAKE2Plus.n.multiplied(by: w0Scalar)).uncompressed,
             try unmasked.multiplied(by: y).uncompressed,
             try lPoint.multiplied(by: y).uncompressed)
        }
        let tt = SPAKE2Plus.transcript(identities: identities, shareP: shareP, shareV: shareV, z: z, v: v, w0: w0)
        let schedule = SPAKE2PlusKeySchedule(transcript: tt, shareP: shareP, shareV: shareV)
        self.shareV = shareV
        self.confirmV = schedule.confirmV
        self.z = z
        self.v = v
        self.schedule = schedule
    }

    /// Checks the prover's confirmP (constant time) and returns K_shared (32 bytes).
    public func confirm(confirmP: [UInt8]) throws(SPAKE2PlusError) -> [UInt8] {
        guard HMAC<SHA256>.isValidAuthenticationCode(confirmP, authenticating: shareV,
                                                      using: SymmetricKey(data: schedule.kConfirmP)) else {
            throw .confirmationMismatch
        }
        return schedule.kShared
    }
}
