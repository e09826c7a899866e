import SPAKE2Plus
import SpaakCore

/// The module's SPAKE2+ verifier work of ICD 8.3 step 3, timed for `scripts/bench pairing`
/// (`spaak-fuzz bench-spake2`): X checked, y drawn as the module draws it, Y = y·G + w0·N,
/// Z = y·(X − w0·M), V = y·L, the transcript and the key schedule (confirmV). The peer is a
/// Python verifier written from RFC 9383 in `scripts/benchlib`, timed in the same run.
public enum SpakeBench {
    /// One timing.
    public struct Result: Sendable {
        /// Verifier computations timed.
        public var iterations: Int
        /// Their total time.
        public var seconds: Double
        /// Whether the RFC 9383 appendix C vector (y fixed) was reproduced first.
        public var vectorOK: Bool

        /// Computations per second.
        public var opsPerSecond: Double { seconds > 0 ? Double(iterations) / seconds : 0 }

        /// One line of JSON for the bench script.
        public var json: String {
            "{\"iterations\": \(iterations), \"seconds\": \(seconds), \"ops_per_s\": \(opsPerSecond), \"vector_ok\": \(vectorOK)}"
        }
    }

    /// RFC 9383 appendix C (P256-SHA256-HKDF-SHA256-HMAC-SHA256).
    enum Vector {
        static let identities = SPAKE2PlusIdentities(context: Array("SPAKE2+-P256-SHA256-HKDF-SHA256-HMAC-SHA256 Test Vectors".utf8),
                                                     idProver: Array("client".utf8), idVerifier: Array("server".utf8))
        static let y = hexBytes("717a72348a182085109c8d3917d6c43d59b224dc6a7fc4f0483232fa6516d8b3")
        static let shareP = PairingSeeds.point
        static let shareV = hexBytes("04c0f65da0d11927bdf5d560c69e1d7d939a05b0e88291887d679fcadea75810fb"
                                     + "5cc1ca7494db39e82ff2f50665255d76173e09986ab46742c798a9a68437b048")
        static let confirmP = hexBytes("926cc713504b9b4d76c9162ded04b5493e89109f6d89462cd33adc46fda27527")
        static let confirmV = hexBytes("9747bcc4f8fe9f63defee53ac9b07876d907d55047e6ff2def2e7529089d3e68")
        static let sharedKey = hexBytes("0c5f8ccd1413423a54f6c1fb26ff01534a87f893779c6e68666d772bfd91f3e7")
    }

    /// Whether the verifier reproduces the RFC vector: shareV, confirmV, and K_shared after confirmP.
    public static func vectorMatches() -> Bool {
        guard let y = try? P256Scalar(bytes: Vector.y),
              let verifier = try? SPAKE2PlusVerifier(identities: Vector.identities, w0: PairingFuzzDevice.w0, l: PairingFuzzDevice.l,
                                                     shareP: Vector.shareP, y: y),
              let shared = try? verifier.confirm(confirmP: Vector.confirmP) else { return false }
        return verifier.shareV == Vector.shareV && verifier.confirmV == Vector.confirmV && shared == Vector.sharedKey
    }

    /// Times verifier computations for at least `seconds` (and at least 5) after 3 warm-ups;
    /// identities as ICD 8.4 (the VIN), w0 and L and X of the RFC vector, y random per run.
    public static func run(seconds: Double) -> Result {
        let vectorOK = vectorMatches()
        let identities = SPAKE2PlusIdentities.ownerPairing(vin: Array("VF3ABCDEF12345678".utf8))
        var random = SystemRandomNumberGenerator()
        func once() {
            let y = P256Scalar.random(using: &random)
            guard let verifier = try? SPAKE2PlusVerifier(identities: identities, w0: PairingFuzzDevice.w0, l: PairingFuzzDevice.l,
                                                         shareP: Vector.shareP, y: y) else {
                preconditionFailure("the SPAKE2+ verifier refused the RFC vector's X")
            }
            precondition(verifier.confirmV.count == 32, "confirmV size")
        }
        for _ in 0..<3 { once() }
        let clock = ContinuousClock()
        let start = clock.now
        var iterations = 0
        var elapsed = Duration.zero
        repeat {
            once()
            iterations += 1
            elapsed = clock.now - start
        } while elapsed < .milliseconds(Int64(seconds * 1000)) || iterations < 5
        return Result(iterations: iterations, seconds: elapsed.inSeconds, vectorOK: vectorOK)
    }
}
