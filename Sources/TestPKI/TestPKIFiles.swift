import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Small file helpers: atomic writes with an explicit mode (private keys 0600 from the
/// first byte on disk), and reads that name the missing file.
public enum TestPKIFiles {
    /// Writes `bytes` to `url` atomically (temporary file, then rename) with `mode`.
    public static func write(_ bytes: [UInt8], to url: URL, mode: mode_t = 0o644) throws {
        let path = url.path
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard fd >= 0 else { throw TestPKIError.writeFailed(path) }
        var ok = fchmod(fd, mode) == 0
        var offset = 0
        while ok && offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { posixWrite(fd, $0.baseAddress, $0.count) }
            if written > 0 { offset += written } else if errno != EINTR { ok = false }
        }
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw TestPKIError.writeFailed(path)
        }
    }

    private static func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
        #if canImport(Glibc)
        return Glibc.write(fd, buffer, count)
        #elseif canImport(Musl)
        return Musl.write(fd, buffer, count)
        #else
        return Darwin.write(fd, buffer, count)
        #endif
    }

    /// Writes UTF-8 `text` (see `write(_:to:mode:)`).
    public static func write(_ text: String, to url: URL, mode: mode_t = 0o644) throws {
        try write(Array(text.utf8), to: url, mode: mode)
    }

    /// Reads the whole file, or throws `missingFile` naming it.
    public static func read(_ url: URL) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TestPKIError.missingFile(url.path)
        }
        return [UInt8](data)
    }

    /// Creates `url` and its parents if needed.
    public static func makeDirectory(_ url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw TestPKIError.writeFailed(url.path)
        }
    }
}
