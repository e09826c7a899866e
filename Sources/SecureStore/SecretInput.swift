#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SpaakCore

/// Secrets given to `spaak-ecu` without putting them on its command line (where every local
/// user reads them in `ps` or `/proc/PID/cmdline`): K_plant and the device key secret.
public enum SecretInput {
    /// The environment variable that may hold K_plant (32 hex digits).
    public static let plantKeyVariable = "SPAAK_PLANT_KEY"
    /// The K_plant used when none is given: the test key of the simulated plant.
    public static let defaultPlantKey: [UInt8] = Array(0...15)
    /// The most bytes a secret file may hold.
    public static let maxSecretFileSize = 4096

    /// Where K_plant came from (never the key itself).
    public enum PlantKeySource: String, Sendable {
        case file = "--plant-key-file"
        case option = "--plant-key"
        case environment = "SPAAK_PLANT_KEY"
        case testDefault = "the built-in test key"
    }

    /// Why a secret cannot be used. Never carries the secret.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// A sentence for the user.
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// K_plant from, in this order: `--plant-key-file`, `--plant-key` (giving both is an
    /// error), the environment variable `SPAAK_PLANT_KEY`, else the built-in test key.
    ///
    /// - Parameters:
    ///   - option: the value of `--plant-key`, if given.
    ///   - file: the path of `--plant-key-file`, if given.
    ///   - environment: the value of `SPAAK_PLANT_KEY`, if set.
    ///   - readFile: reads a file (`nil` if it does not exist).
    public static func plantKey(option: String?, file: String?, environment: String?,
                                readFile: (String) throws(Failure) -> [UInt8]?) throws(Failure) -> (key: [UInt8], source: PlantKeySource) {
        if option != nil && file != nil { throw Failure("give K_plant with --plant-key-file or --plant-key, not both") }
        if let file {
            guard let content = try readFile(file) else { throw Failure("--plant-key-file \(file): no such file") }
            guard let key = plantKey(fileContent: content) else {
                throw Failure("--plant-key-file \(file): holds \(content.count) bytes; expected 32 hex digits (an ending newline allowed) or 16 raw bytes")
            }
            return (key, .file)
        }
        if let option {
            guard let key = hexKey(option) else { throw Failure("--plant-key must be 16 bytes in hex (32 digits)") }
            return (key, .option)
        }
        if let environment {
            guard let key = hexKey(environment) else { throw Failure("\(plantKeyVariable) must hold 16 bytes in hex (32 digits)") }
            return (key, .environment)
        }
        return (defaultPlantKey, .testDefault)
    }

    /// K_plant from a key file's content: 32 hex digits (spaces and line ends around them
    /// ignored), or exactly 16 raw bytes; `nil` otherwise.
    public static func plantKey(fileContent: [UInt8]) -> [UInt8]? {
        if let key = hexKey(String(decoding: fileContent, as: UTF8.self)) { return key }
        return fileContent.count == 16 ? fileContent : nil
    }

    /// The device key secret from a file's content: its raw bytes, 16 to 4096 of them.
    public static func deviceSecret(fileContent: [UInt8]?, path: String) throws(Failure) -> [UInt8] {
        guard let fileContent else { throw Failure("--device-key-file \(path): no such file") }
        guard fileContent.count >= 16, fileContent.count <= maxSecretFileSize else {
            throw Failure("--device-key-file \(path): holds \(fileContent.count) bytes; 16 to \(maxSecretFileSize) are needed")
        }
        return fileContent
    }

    /// 16 bytes from 32 hex digits (surrounding white space ignored; as `--plant-key`
    /// always accepted, a `0x` prefix and spaces or colons between bytes are allowed).
    static func hexKey(_ text: String) -> [UInt8]? {
        guard let key = [UInt8](hex: text.trimmingASCIIWhitespace), key.count == 16 else { return nil }
        return key
    }

    /// Reads a whole file (up to `maxSecretFileSize + 1` bytes; symbolic links followed);
    /// `nil` if it does not exist.
    public static func readSecretFile(_ path: String) throws(Failure) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            if code == ENOENT { return nil }
            throw Failure("\(path): \(String(cString: strerror(code)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while bytes.count <= maxSecretFileSize {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure("\(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes += buffer[0..<count]
        }
        return bytes
    }

    /// Whether a file can be read by others than its owner (group or world bits set).
    public static func isReadableByOthers(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        return UInt32(info.st_mode) & 0o077 != 0
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and line ends.
    var trimmingASCIIWhitespace: String {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        let bytes = Array(utf8)
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
