import Foundation
import X509

/// The result for one CSR of a batch.
public struct TestPKICSROutcome: Sendable, Equatable, CustomStringConvertible {
    /// Where the CSR came from (its file path).
    public var source: String
    /// The CSR's CN, when it could be read.
    public var serial: String?
    /// The written certificate files (PEM, DER) when issued; `nil` when refused.
    public var files: (pem: String, der: String)?
    /// Why the CSR was refused; `nil` when issued.
    public var refusal: String?

    /// `true` when a certificate was issued.
    public var isIssued: Bool { refusal == nil }

    /// One report line: `ok <serial> <source> -> <pem>` or `refused <source>: <reason>`.
    public var description: String {
        if let refusal { return "refused \(source): \(refusal)" }
        return "ok \(serial ?? "?") \(source) -> \(files?.pem ?? "?")"
    }

    /// Equal when all fields are equal.
    public static func == (a: TestPKICSROutcome, b: TestPKICSROutcome) -> Bool {
        a.source == b.source && a.serial == b.serial && a.refusal == b.refusal
            && a.files?.pem == b.files?.pem && a.files?.der == b.files?.der
    }
}

/// RP-02 step 3 at the PKI: a batch of CSRs from the supplier plant's EOL tester.
public enum TestPKIBatch {
    /// For each CSR file: parse (PEM or DER), check the signature and that the CN is a
    /// registered serial not seen earlier in the batch, issue an ECU identity certificate
    /// under [J1] and write `<serial>.crt.pem` and `<serial>.crt.der` into `outputDirectory`.
    public static func signCSRFiles(
        _ files: [URL], hierarchy: TestPKIHierarchy, registry: TestPKIRegistry, outputDirectory: URL,
        now: Date = Date(), validityDays: Int = 3650
    ) -> [TestPKICSROutcome] {
        var seen: Set<String> = []
        var outcomes: [TestPKICSROutcome] = []
        for file in files {
            var outcome = TestPKICSROutcome(source: file.path, serial: nil, files: nil, refusal: nil)
            do {
                let csr = try TestPKICSR.parse(try TestPKIFiles.read(file))
                let serial = try TestPKICSR.check(csr)
                outcome.serial = serial
                guard registry.contains(serial) else {
                    throw TestPKIError.csrRefused("serial \(serial) is not registered with the PKI")
                }
                guard seen.insert(serial).inserted else {
                    throw TestPKIError.csrRefused("serial \(serial) appears twice in this batch")
                }
                let certificate = try hierarchy.issueECUIdentityCertificate(csr: csr, now: now, validityDays: validityDays)
                try TestPKIFiles.makeDirectory(outputDirectory)
                let pem = outputDirectory.appendingPathComponent("\(serial).crt.pem")
                let der = outputDirectory.appendingPathComponent("\(serial).crt.der")
                try TestPKIFiles.write(try certificate.pemString() + "\n", to: pem)
                try TestPKIFiles.write(try certificate.derBytes(), to: der)
                outcome.files = (pem.path, der.path)
            } catch TestPKIError.csrRefused(let reason) {
                outcome.refusal = reason
            } catch let error as TestPKIError {
                outcome.refusal = error.description
            } catch {
                outcome.refusal = "\(error)"
            }
            outcomes.append(outcome)
        }
        return outcomes
    }
}
