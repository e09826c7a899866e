import Foundation
import Glibc
import JWTKit

/// Why the identity provider's key file could not be used.
public struct TokenKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, with the path (never the key).
    public var description: String

    init(_ description: String) { self.description = description }
}

/// The simulated identity provider's signing key: a P-256 private key in a PEM file
/// (PKCS#8, `-----BEGIN PRIVATE KEY-----`), readable by its owner only (0600). Created
/// when missing, so that `spaak-cloud serve` and `spaak-cloud token` share it.
public enum IdentityKeyFile {
    /// The key in `path`, made and written (0600, exclusively) when the file does not exist.
    /// `created` says which happened.
    /// - Throws: `TokenKeyError` when the file cannot be read or written, is not a regular
    ///   file, is accessible to group or others, or holds no P-256 private key.
    public static func loadOrCreate(path: String) throws(TokenKeyError) -> (key: ES256PrivateKey, created: Bool) {
        if let key = try load(path: path) { return (key, false) }
        let key = ES256PrivateKey()
        guard try writeExclusively(Array(key.pemRepresentation.utf8), to: path) else {
            // Made by another process in the meantime: use that one.
            guard let key = try load(path: path) else { throw TokenKeyError("identity key \(path) vanished while it was created") }
            return (key, false)
        }
        return (key, true)
    }

    /// The key in `path`, or `nil` when there is no such file.
    static func load(path: String) throws(TokenKeyError) -> ES256PrivateKey? {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw TokenKeyError("identity key \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw TokenKeyError("identity key \(path) is not a regular file")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw TokenKeyError("identity key \(path) is accessible to group or others (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenKeyError("identity key \(path) cannot be read")
        }
        do {
            return try ES256PrivateKey(pem: String(decoding: data, as: UTF8.self))
        } catch {
            throw TokenKeyError("identity key \(path) holds no P-256 private key in PEM")
        }
    }

    /// Writes a new file (O_EXCL, 0600) and syncs it; `false` when the file exists.
    private static func writeExclusively(_ bytes: [UInt8], to path: String) throws(TokenKeyError) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { return false }
            throw TokenKeyError("identity key \(path) cannot be created: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                let reason = String(cString: strerror(errno))
                unlink(path)
                throw TokenKeyError("identity key \(path) cannot be written: \(reason)")
            }
            offset += written
        }
        guard fsync(fd) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(path)
            throw TokenKeyError("identity key \(path) cannot be synced: \(reason)")
        }
        return true
    }
}
