import Foundation
import PhoneSimulator
import TestPKI

/// The phone's state file on disk (`--key`): loaded or created (mode 0600), rewritten
/// atomically when phase 2 brings the vehicle's [K].
final class PhoneStateFile {
    let path: String
    private(set) var contents: PhoneKeyFile

    private init(path: String, contents: PhoneKeyFile) {
        self.path = path
        self.contents = contents
    }

    /// Loads `path`, or creates it with a new endpoint key when it does not exist; `created`
    /// tells which.
    static func loadOrCreate(_ path: String) throws -> (file: PhoneStateFile, created: Bool) {
        if FileManager.default.fileExists(atPath: path) {
            let bytes = try TestPKIFiles.read(URL(fileURLWithPath: path))
            do {
                return (PhoneStateFile(path: path, contents: try PhoneKeyFile(pem: String(decoding: bytes, as: UTF8.self))), false)
            } catch {
                throw PhoneSetupError("\(path): \(error) (delete it to start with a new endpoint key)")
            }
        }
        let file = PhoneStateFile(path: path, contents: PhoneKeyFile(endpointKey: .init()))
        try file.write()
        return (file, true)
    }

    /// Keeps `der` as the paired vehicle's [K].
    func saveVehicleCertificate(_ der: [UInt8]) throws {
        contents.vehicleCertificate = der
        try write()
    }

    private func write() throws {
        do {
            try TestPKIFiles.write(contents.pem, to: URL(fileURLWithPath: path), mode: 0o600)
        } catch {
            throw PhoneSetupError("cannot write \(path): \(error)")
        }
    }
}

/// A usage or setup problem: printed, exit status 2.
struct PhoneSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
