#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The VOS's mail outbox as a Maildir (the simulated mail server): each e-mail is written to
/// `tmp/<time>.<unique>.<host>` (created exclusively, synced), then renamed into `new/` —
/// Maildir delivery, so a reader never sees a partial message. The folders are created 0700.
public final class MaildirOutbox: MailOutbox, Sendable {
    /// The Maildir's root (holding `tmp/`, `new/`, `cur/`).
    public let root: String

    /// Opens the Maildir at `root`, creating it and its `tmp/`, `new/`, `cur/` (0700) when missing.
    public init(root: String) throws(MaildirError) {
        self.root = root
        try Self.makeDirectory(root, parents: true)
        for sub in ["tmp", "new", "cur"] { try Self.makeDirectory(root + "/" + sub, parents: false) }
    }

    /// Writes `message` to `tmp/`, syncs it and moves it into `new/`; throws when any step fails
    /// (a file left in `tmp/` is removed).
    public func deliver(_ message: MailMessage) throws {
        let name = Self.uniqueName()
        let temporary = root + "/tmp/" + name
        let final = root + "/new/" + name
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw MaildirError("cannot create \(temporary): \(Self.errnoText())") }
        var written = 0
        let ok: Bool = message.data.withUnsafeBytes { buffer in
            while written < buffer.count {
                let n = write(fd, buffer.baseAddress! + written, buffer.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                written += n
            }
            return fsync(fd) == 0
        }
        let failure = ok ? nil : Self.errnoText()
        let closed = close(fd) == 0
        guard ok, closed else {
            unlink(temporary)
            throw MaildirError("cannot write \(temporary): \(failure ?? Self.errnoText())")
        }
        guard rename(temporary, final) == 0 else {
            let text = Self.errnoText()
            unlink(temporary)
            throw MaildirError("cannot move the e-mail into \(root)/new: \(text)")
        }
        Self.syncDirectory(root + "/new")
    }

    /// `<seconds>.M<microseconds>P<pid>R<random>.<host>` (the Maildir naming convention).
    static func uniqueName() -> String {
        var now = timeval()
        gettimeofday(&now, nil)
        var generator = SystemRandomNumberGenerator()
        let random = String(UInt64.random(in: .min ... .max, using: &generator), radix: 16)
        var host = [CChar](repeating: 0, count: 256)
        let hostname = gethostname(&host, host.count) == 0
            ? String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "localhost"
        let safeHost = hostname.replacingOccurrences(of: "/", with: "\\057").replacingOccurrences(of: ":", with: "\\072")
        return "\(now.tv_sec).M\(now.tv_usec)P\(getpid())R\(random).\(safeHost.isEmpty ? "localhost" : safeHost)"
    }

    private static func makeDirectory(_ path: String, parents: Bool) throws(MaildirError) {
        if parents {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                throw MaildirError("cannot create \(path): \(error.localizedDescription)")
            }
        } else if mkdir(path, 0o700) != 0, errno != EEXIST {
            throw MaildirError("cannot create \(path): \(errnoText())")
        }
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw MaildirError("\(path) is not a directory")
        }
    }

    private static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}

/// A Maildir that cannot be created or written.
public struct MaildirError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What failed.
    public var description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
