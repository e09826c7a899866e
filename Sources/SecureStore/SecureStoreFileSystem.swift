#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

private func sysClose(_ fd: Int32) -> Int32 { close(fd) }
private func sysRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int { read(fd, buffer, count) }
private func sysWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int { write(fd, buffer, count) }
private func sysRename(_ from: String, _ to: String) -> Int32 { rename(from, to) }

/// The file-system calls `FileSecureStore` makes, so that tests can inject a failure or a
/// power loss at every single step (`SimulatedFileSystem`). Paths are absolute or relative
/// POSIX paths; `handle`s are what `createFile` returned.
public protocol SecureStoreFileSystem: AnyObject, Sendable {
    /// Creates the directory if it does not exist (`mkdir` with `mode`); fails if the path
    /// exists and is not a directory.
    func makeDirectory(_ path: String, mode: UInt32) throws(SecureStoreError)
    /// The names in a directory, without `.` and `..`.
    func contentsOfDirectory(_ path: String) throws(SecureStoreError) -> [String]
    /// A file's content, `nil` if it does not exist; at most `limit` bytes are read (a
    /// longer file is returned cut at `limit + 1` bytes, so the caller sees it is too long).
    func readFile(_ path: String, limit: Int) throws(SecureStoreError) -> [UInt8]?
    /// Creates a new, empty file for writing (fails if it exists; no symbolic links).
    func createFile(_ path: String, mode: UInt32) throws(SecureStoreError) -> Int32
    /// Writes all of `bytes` at the end of the file.
    func write(_ handle: Int32, _ bytes: [UInt8]) throws(SecureStoreError)
    /// Makes the file's content durable (`fsync`).
    func sync(_ handle: Int32) throws(SecureStoreError)
    /// Closes the file.
    func close(_ handle: Int32) throws(SecureStoreError)
    /// Renames `from` to `to`, atomically replacing `to`.
    func rename(_ from: String, _ to: String) throws(SecureStoreError)
    /// Removes a file; no error if it does not exist.
    func remove(_ path: String) throws(SecureStoreError)
    /// Makes the directory's entries (creations, renames, removals) durable (`fsync` of the directory).
    func syncDirectory(_ path: String) throws(SecureStoreError)
    /// The permission bits of a file or directory (symbolic links not followed), `nil` if absent.
    func mode(_ path: String) throws(SecureStoreError) -> UInt32?
    /// Sets the permission bits.
    func setMode(_ path: String, _ mode: UInt32) throws(SecureStoreError)
}

/// The real file system, through POSIX calls.
public final class POSIXFileSystem: SecureStoreFileSystem {
    /// Creates the (stateless) file system.
    public init() {}

    /// See `SecureStoreFileSystem.makeDirectory`.
    public func makeDirectory(_ path: String, mode: UInt32) throws(SecureStoreError) {
        if mkdir(path, mode_t(mode)) == 0 { return }
        let code = errno
        var info = stat()
        guard code == EEXIST, lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw .io(operation: "mkdir", path: path, errno: code == EEXIST ? ENOTDIR : code)
        }
    }

    /// See `SecureStoreFileSystem.contentsOfDirectory`.
    public func contentsOfDirectory(_ path: String) throws(SecureStoreError) -> [String] {
        guard let dir = opendir(path) else { throw .io(operation: "opendir", path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// See `SecureStoreFileSystem.readFile`.
    public func readFile(_ path: String, limit: Int) throws(SecureStoreError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw .io(operation: "open", path: path, errno: errno)
        }
        defer { _ = sysClose(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count <= limit {
            let n = buffer.withUnsafeMutableBytes { sysRead(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "read", path: path, errno: errno)
            }
            if n == 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return Array(bytes.prefix(limit + 1))
    }

    /// See `SecureStoreFileSystem.createFile`.
    public func createFile(_ path: String, mode: UInt32) throws(SecureStoreError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw .io(operation: "create", path: path, errno: errno) }
        guard fchmod(fd, mode_t(mode)) == 0 else {
            let code = errno
            _ = sysClose(fd)
            throw .io(operation: "fchmod", path: path, errno: code)
        }
        return fd
    }

    /// See `SecureStoreFileSystem.write`.
    public func write(_ handle: Int32, _ bytes: [UInt8]) throws(SecureStoreError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return sysWrite(handle, base + offset, raw.count - offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "write", path: "fd \(handle)", errno: errno)
            }
            offset += n
        }
    }

    /// See `SecureStoreFileSystem.sync`.
    public func sync(_ handle: Int32) throws(SecureStoreError) {
        guard fsync(handle) == 0 else { throw .io(operation: "fsync", path: "fd \(handle)", errno: errno) }
    }

    /// See `SecureStoreFileSystem.close`.
    public func close(_ handle: Int32) throws(SecureStoreError) {
        guard sysClose(handle) == 0 else { throw .io(operation: "close", path: "fd \(handle)", errno: errno) }
    }

    /// See `SecureStoreFileSystem.rename`.
    public func rename(_ from: String, _ to: String) throws(SecureStoreError) {
        guard sysRename(from, to) == 0 else { throw .io(operation: "rename", path: "\(from) → \(to)", errno: errno) }
    }

    /// See `SecureStoreFileSystem.remove`.
    public func remove(_ path: String) throws(SecureStoreError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw .io(operation: "unlink", path: path, errno: errno) }
    }

    /// See `SecureStoreFileSystem.syncDirectory`.
    public func syncDirectory(_ path: String) throws(SecureStoreError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(operation: "open directory", path: path, errno: errno) }
        defer { _ = sysClose(fd) }
        guard fsync(fd) == 0 else { throw .io(operation: "fsync directory", path: path, errno: errno) }
    }

    /// See `SecureStoreFileSystem.mode`.
    public func mode(_ path: String) throws(SecureStoreError) -> UInt32? {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw .io(operation: "lstat", path: path, errno: errno)
        }
        return UInt32(info.st_mode) & 0o7777
    }

    /// See `SecureStoreFileSystem.setMode`.
    public func setMode(_ path: String, _ mode: UInt32) throws(SecureStoreError) {
        guard chmod(path, mode_t(mode)) == 0 else { throw .io(operation: "chmod", path: path, errno: errno) }
    }
}
