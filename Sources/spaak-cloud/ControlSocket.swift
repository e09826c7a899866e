import Glibc

/// A failure on the control socket.
struct ControlSocketError: Error, CustomStringConvertible {
    var description: String

    init(_ operation: String, path: String, errno code: Int32 = errno) {
        description = "\(operation) \(path): \(String(cString: strerror(code)))"
    }

    init(message: String) { description = message }
}

/// The Unix-domain stream socket on which `spaak-cloud serve` takes commands: one line
/// per connection, answered with the reply, then closed. The listening descriptor is
/// non-blocking (watched by the event loop); a connection's descriptor is read only when
/// the loop says it is readable, and written with a 1 s send timeout.
final class ControlServer {
    let path: String
    private(set) var listenFD: Int32
    /// Open connections and what they sent so far.
    private(set) var clients: [Int32: [UInt8]] = [:]

    /// The longest command line accepted.
    static let maxLine = 8192
    /// The most connections open at once; more are closed at once.
    static let maxClients = 16

    /// Binds and listens at `path`, replacing a stale socket file left by an earlier run.
    init(path: String) throws {
        self.path = path
        var address = try Self.address(path)
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFSOCK else {
                throw ControlSocketError(message: "\(path) exists and is not a socket; not replacing it")
            }
            unlink(path)
        }
        listenFD = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listenFD >= 0 else { throw ControlSocketError("socket for", path: path) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listenFD, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(listenFD, 8) == 0 else {
            let error = ControlSocketError("bind/listen", path: path)
            Glibc.close(listenFD)
            throw error
        }
        chmod(path, 0o600)
    }

    deinit { close() }

    /// Closes every descriptor and removes the socket file.
    func close() {
        for fd in clients.keys { Glibc.close(fd) }
        clients.removeAll()
        if listenFD >= 0 {
            Glibc.close(listenFD)
            unlink(path)
        }
        listenFD = -1
    }

    /// Accepts pending connections; returns the new descriptors (to watch).
    func acceptAll() -> [Int32] {
        var accepted: [Int32] = []
        while true {
            let fd = accept(listenFD, nil, nil)
            guard fd >= 0 else { break }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            guard clients.count < Self.maxClients else {
                Glibc.close(fd)
                continue
            }
            var timeout = timeval(tv_sec: 1, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            clients[fd] = []
            accepted.append(fd)
        }
        return accepted
    }

    /// Reads what `fd` has. Returns the command line once complete (newline or end of
    /// stream), `nil` while more is expected; an empty or overlong line comes back as "".
    func read(_ fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 1024)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if count < 0 && (errno == EAGAIN || errno == EINTR) { return nil }
        var line = clients[fd] ?? []
        if count > 0 { line += buffer[0..<count] }
        clients[fd] = line
        if let newline = line.firstIndex(of: 0x0A) { return String(decoding: line[..<newline], as: UTF8.self) }
        if count <= 0 || line.count > Self.maxLine { return line.count > Self.maxLine ? "" : String(decoding: line, as: UTF8.self) }
        return nil
    }

    /// Sends `reply` (newline-terminated) and closes the connection.
    func finish(_ fd: Int32, reply: String) {
        let bytes = Array((reply + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { break }
            offset += written
        }
        Glibc.close(fd)
        clients[fd] = nil
    }

    /// The `sockaddr_un` of `path`.
    static func address(_ path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else {
            throw ControlSocketError(message: "control socket path must be 1…\(capacity - 1) bytes: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }
}

/// `spaak-cloud ctl`: sends one command line and returns the reply.
enum ControlClient {
    static func send(_ line: String, to path: String) throws -> String {
        var address = try ControlServer.address(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlSocketError("socket for", path: path) }
        defer { Glibc.close(fd) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw ControlSocketError("cannot connect to (is spaak-cloud serve running?)", path: path) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array((line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw ControlSocketError("write to", path: path) }
            offset += written
        }
        shutdown(fd, Int32(SHUT_WR))
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                if count < 0 { throw ControlSocketError("read from", path: path) }
                break
            }
            reply += buffer[0..<count]
        }
        var text = String(decoding: reply, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}
