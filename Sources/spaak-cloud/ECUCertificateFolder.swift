import CloudSimulator
import Foundation
import TestPKI

/// A folder of ECU identity certificates `<serial>.crt.der` / `<serial>.crt.pem` (the PKI
/// output of the EOL tester's batches), for `--ecu-certs`: every certificate is registered
/// at start (an upsert: several VOS instances may do it at once), and the VOS looks up a
/// serial it does not know yet there.
struct ECUCertificateFolder {
    let path: String

    /// Registers every certificate of the folder with `vos` (one line each) and makes the VOS
    /// look up unknown serials there.
    func register(with vos: VehicleOEMServer, log: (String) -> Void) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        let stems = Set(names.filter { $0.hasSuffix(".crt.der") || $0.hasSuffix(".crt.pem") }.map { String($0.dropLast(8)) })
        for stem in stems.sorted() {
            guard let bytes = certificate(stem) else { continue }
            do {
                log("registered ECU \(try vos.registerECU(certificate: bytes, date: Date())) from \(path)")
            } catch {
                log("not registered: \(stem) in \(path): \(error)")
            }
        }
        let folder = self
        vos.ecuCertificateSource = { serial in TestPKIRegistry.isValidSerial(serial) ? folder.certificate(serial) : nil }
    }

    /// The certificate of `stem` (DER preferred), if present.
    func certificate(_ stem: String) -> [UInt8]? {
        let url = URL(fileURLWithPath: path)
        for ext in [".crt.der", ".crt.pem"] {
            if let data = try? Data(contentsOf: url.appendingPathComponent(stem + ext)) { return [UInt8](data) }
        }
        return nil
    }
}
