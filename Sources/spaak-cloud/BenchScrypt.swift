import ArgumentParser
import CloudProtocol
import CloudSimulator
import Foundation

/// `spaak-cloud bench-scrypt`: times the VOS's verifier generation (password, salt, scrypt,
/// CCC derivation of ICD 7.6), to compare with e.g. Python's `hashlib.scrypt` in the same run.
struct BenchScrypt: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-scrypt",
        abstract: "Time SPAKE2+ verifier generation as the VOS does it (scrypt + w0/L derivation).")

    @Option(help: "scrypt cost N.") var n: UInt32 = 32768
    @Option(help: "scrypt block size r.") var r: UInt16 = 8
    @Option(help: "scrypt parallelism p.") var p: UInt16 = 1
    @Option(help: "Timed derivations (after one warm-up).") var iterations = 5
    @Flag(help: "Print one JSON object instead of text.") var json = false

    func validate() throws {
        guard n >= 2, n & (n - 1) == 0 else { throw ValidationError("--n must be a power of two ≥ 2") }
        guard r >= 1, p >= 1, (1...1000).contains(iterations) else { throw ValidationError("--r, --p ≥ 1; --iterations 1…1000") }
    }

    func run() throws {
        let password = Array("01234567".utf8)
        _ = try SpakeVerifierDerivation.record(password: password, salt: VehicleOEMServer.systemRandomBytes(16), n: n, r: r, p: p)
        var samples: [Double] = []
        for _ in 0..<iterations {
            let salt = VehicleOEMServer.systemRandomBytes(16)
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try SpakeVerifierDerivation.record(password: password, salt: salt, n: n, r: r, p: p)
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        let sorted = samples.sorted()
        let median = sorted[sorted.count / 2]
        let mean = samples.reduce(0, +) / Double(samples.count)
        if json {
            let rounded = samples.map { ($0 * 1000).rounded() / 1000 }
            print("{\"tool\":\"spaak-cloud\",\"n\":\(n),\"r\":\(r),\"p\":\(p),\"iterations\":\(iterations),"
                  + "\"min_ms\":\(sorted[0]),\"median_ms\":\(median),\"mean_ms\":\(mean),\"samples_ms\":\(rounded)}")
        } else {
            print(String(format: "verifier generation N=%u r=%u p=%u: min %.1f ms, median %.1f ms, mean %.1f ms over %d",
                         n, UInt32(r), UInt32(p), sorted[0], median, mean, iterations))
        }
    }
}
