import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file system in memory that models what survives a crash or a power loss, and can fail
/// at any chosen step: the test bench for the atomicity of `FileSecureStore`.
///
/// Durability model (the pessimistic POSIX one): a file's content is durable only up to its
/// last `sync`; creations, renames and removals in a directory are durable only after
/// `syncDirectory` of that directory, and between two such syncs any *prefix* of them may
/// survive (file systems with an ordered metadata journal). Directories themselves are
/// durable at once. `survivor(...)` builds the file system a restart would find.
public final class SimulatedFileSystem: SecureStoreFileSystem {
    /// What an injected fault does.
    public enum FaultMode: Sendable {
        /// The call fails and so does every later call, reads included: the process died.
        case crash
        /// Only this call fails (with EIO); later calls work.
        case transient
    }

    struct Inode: Sendable {
        var data: [UInt8]
        var durable: [UInt8]
        var mode: UInt32
    }

    enum Change: Sendable {
        case create(String, Int)
        case rename(String, String, Int)
        case remove(String)
    }

    struct State: Sendable {
        var inodes: [Int: Inode] = [:]
        var nextInode = 1
        var names: [String: Int] = [:]
        var durableNames: [String: Int] = [:]
        var pending: [(directory: String, change: Change)] = []
        var directories: [String: UInt32] = [:]
        var handles: [Int32: Int] = [:]
        var nextHandle: Int32 = 3
        var steps = 0
        var faults: [Int: FaultMode] = [:]
        var crashed = false
        var log: [String] = []
    }

    let state: Mutex<State>

    /// Creates an empty file system.
    public init() { state = Mutex(State()) }

    init(state: sending State) { self.state = Mutex(state) }

    /// Makes the `step`-th mutating call from now on (1 = the next one) fail; several
    /// faults may be pending at once.
    public func injectFault(afterSteps step: Int, mode: FaultMode) {
        state.withLock { $0.faults[$0.steps + step] = mode }
    }

    /// Cancels the faults not yet reached (a crash already happened stays).
    public func clearFaults() {
        state.withLock { $0.faults = [:] }
    }

    /// How many mutating calls (create, write, sync, close, rename, remove, syncDirectory,
    /// setMode, makeDirectory) were made.
    public var stepCount: Int { state.withLock { $0.steps } }

    /// One line per mutating call, for test diagnostics.
    public var log: [String] { state.withLock { $0.log } }

    /// How many creations, renames and removals are not yet durable.
    public var pendingMetadataCount: Int { state.withLock { $0.pending.count } }

    /// The file system a restart finds: the durable state plus the first
    /// `keepingMetadata` pending directory changes (all if `nil`), with each file's
    /// unsynced content kept (`keepingUnsyncedData`) or lost. A process crash without
    /// power loss is `survivor(keepingMetadata: nil, keepingUnsyncedData: true)`.
    public func survivor(keepingMetadata: Int?, keepingUnsyncedData: Bool) -> SimulatedFileSystem {
        survivor(keeping: { index in keepingMetadata.map { index < $0 } ?? true }, keepingUnsyncedData: keepingUnsyncedData)
    }

    /// Like `survivor(keepingMetadata:keepingUnsyncedData:)`, keeping an arbitrary subset
    /// of the pending directory changes (by index, in order): a file system that does not
    /// order its metadata updates.
    public func survivor(keepingChanges kept: Set<Int>, keepingUnsyncedData: Bool) -> SimulatedFileSystem {
        survivor(keeping: { kept.contains($0) }, keepingUnsyncedData: keepingUnsyncedData)
    }

    func survivor(keeping: (Int) -> Bool, keepingUnsyncedData: Bool) -> SimulatedFileSystem {
        let next = state.withLock { (s: inout State) -> State in
            var names = s.durableNames
            for (index, item) in s.pending.enumerated() where keeping(index) {
                SimulatedFileSystem.apply(item.change, to: &names)
            }
            var fresh = State()
            fresh.directories = s.directories
            fresh.names = names
            fresh.durableNames = names
            fresh.nextInode = s.nextInode
            for inode in Set(names.values) {
                guard var node = s.inodes[inode] else { continue }
                if !keepingUnsyncedData { node.data = node.durable }
                node.durable = node.data
                fresh.inodes[inode] = node
            }
            return fresh
        }
        return SimulatedFileSystem(state: next)
    }

    static func apply(_ change: Change, to names: inout [String: Int]) {
        switch change {
        case .create(let path, let inode): names[path] = inode
        case .rename(let from, let to, let inode): names[from] = nil; names[to] = inode
        case .remove(let path): names[path] = nil
        }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Counts a mutating call and applies an injected fault; `true` if the call must fail.
    static func step(_ s: inout State, _ what: String) throws(SecureStoreError) -> Bool {
        if s.crashed { throw .io(operation: "\(what) after a simulated crash", path: "", errno: EIO) }
        s.steps += 1
        s.log.append(what)
        guard let mode = s.faults.removeValue(forKey: s.steps) else { return false }
        if mode == .crash { s.crashed = true }
        return true
    }

    static func checkAlive(_ s: State, _ what: String) throws(SecureStoreError) {
        if s.crashed { throw .io(operation: "\(what) after a simulated crash", path: "", errno: EIO) }
    }

    /// See `SecureStoreFileSystem.makeDirectory`.
    public func makeDirectory(_ path: String, mode: UInt32) throws(SecureStoreError) {
        try state.withLock { (s: inout State) throws(SecureStoreError) in
            if try SimulatedFileSystem.step(&s, "mkdir \(path)") { throw .io(operation: "mkdir", path: path, errno: EIO) }
            if s.names[path] != nil { throw .io(operation: "mkdir", path: path, errno: ENOTDIR) }
            if s.directories[path] == nil { s.directories[path] = mode }
        }
    }

    /// See `SecureStoreFileSystem.contentsOfDirectory`.
    public func contentsOfDirectory(_ path: String) throws(SecureStoreError) -> [String] {
        try state.withLock { (s: inout State) throws(SecureStoreError) in
            try SimulatedFileSystem.checkAlive(s, "list")
            guard s.directories[path] != nil else { throw .io(operation: "opendir", path: path, errno: ENOENT) }
            let prefix = path.hasSuffix("/") ? path : path + "/"
            return s.names.keys.filter { SimulatedFileSystem.directory(of: $0) == path }
                .map { String($0.dropFirst(prefix.count)) }.sorted()
        }
    }

    /// See `SecureStoreFileSystem.readFile`.
    public func readFile(_ path: String, limit: Int) throws(SecureStoreError) -> [UInt8]? {
        try state.withLock { (s: inout State) throws(SecureStoreError) in
            try SimulatedFileSystem.checkAlive(s, "read")
            guard let inode = s.names[path], let node = s.inodes[inode] else { return nil }
            return Array(node.data.prefix(limit + 1))
        }
    }

    /// See `SecureStoreFileSystem.createFile`.
    public func createFile(_ path: String, mode: UInt32) throws(SecureStoreError) -> Int32 {
        try state.withLock { (s: inout State) throws(SecureStoreError) in
            if try SimulatedFileSystem.step(&s, "create \(path)") { throw .io(operation: "create", path: path, errno: EIO) }
            let directory = SimulatedFileSystem.directory(of: path)
            guard s.directories[directory] != nil else { throw .io(operation: "create", path: path, errno: ENOENT) }
            guard s.names[path] == nil, s.directories[path] == nil else { throw .io(operation: "create", path: path, errno: EEXIST) }
            let inode = s.nextInode
            s.nextInode += 1
            s.inodes[inode] = Inode(data: [], durable: [], mode: mode)
            s.names[path] = inode
            s.pending.append((directory, .create(path, inode)))
            let handle = s.nextHandle
            s.nextHandle += 1
            s.handles[handle] = inode
            return handle
        }
    }

    /// See `SecureStoreFileSystem.write`.
    public func write(_ handle: Int32, _ bytes: [UInt8]) throws(SecureStoreError) {
        try state.withLock { (s: inout State) throws(SecureStoreError) in
            let fails = try SimulatedFileSystem.step(&s, "write \(bytes.count) bytes to fd \(handle)")
            guard let inode = s.handles[handle] else { throw .io(operation: "write", path: "fd \(handle)", errno: EBADF) }
            // A failing write is torn: half of it reaches the file.
            s.inodes[inode]?.data.append(contentsOf: fails ? Array(bytes.prefix(bytes.count / 2)) : bytes)
            if fails { throw .io(operation: "write", path: "fd \(handle)", errno: EIO) }
        }
    }

    /// See `SecureStoreFileSystem.sync`.
    public func sync(_ handle: Int32) throws(SecureStoreError) {
        try state.withLock { (s: inout State) throws(SecureStoreError) in
            if try SimulatedFileSystem.step(&s, "fsync fd \(handle)") { throw .io(operation: "fsync", path: "fd \(handle)", errno: EIO) }
            guard let inode = s.handles[handle], let node = s.inodes[inode] else {
                throw .io(operation: "fsync", path: "fd \(handle)", errno: EBADF)
            }
            s.inodes[inode]?.durable = node.data
        }
    }

    /// See `SecureStoreFileSystem.close`.
    public func close(_ handle: Int32) throws(SecureStoreError) {
        try state.withLock { (s: inout State) throws(SecureStoreError) in
            let fails = try SimulatedFileSystem.step(&s, "close fd \(handle)")
            guard s.handles.removeValue(forKey: handle) != nil else { throw .io(operation: "close", path: "fd \(handle)", errno: EBADF) }
            if fails { throw .io(operation: "close", path: "fd \(handle)", errno: EIO) }
        }
    }

    /// See `SecureStoreFileSystem.rename`.
    public func rename(_ from: String, _ to: String) throws(SecureStoreError) {
        try state.withLock { (s: inout State) throws(SecureStoreError) in
            if try SimulatedFileSystem.step(&s, "rename \(from) → \(to)") { throw .io(operation: "rename", path: from, errno: EIO) }
            guard let inode = s.names[from] else { throw .io(operation: "rename", path: from, errno: ENOENT) }
            let directory = SimulatedFileSystem.directory(of: to)
            guard SimulatedFileSystem.directory(of: from) == directory else { throw .io(operation: "rename", path: to, errno: EXDEV) }
            s.names[from] = nil
            s.names[to] = inode
            s.pending.append((directory, .rename(from, to, inode)))
        }
    }

    /// See `SecureStoreFileSystem.remove`.
    public func remove(_ path: String) throws(SecureStoreError) {
        try state.withLock { (s: inout State) throws(SecureStoreError) in
            if try SimulatedFileSystem.step(&s, "unlink \(path)") { throw .io(operation: "unlink", path: path, errno: EIO) }
            guard s.names.removeValue(forKey: path) != nil else { return }
            s.pending.append((SimulatedFileSystem.directory(of: path), .remove(path)))
        }
    }

    /// See `SecureStoreFileSystem.syncDirectory`.
    public func syncDirectory(_ path: String) throws(SecureStoreError) {
        try state.withLock { (s: inout State) throws(SecureStoreError) in
            if try SimulatedFileSystem.step(&s, "fsync directory \(path)") { throw .io(operation: "fsync directory", path: path, errno: EIO) }
            var rest: [(directory: String, change: Change)] = []
            for item in s.pending {
                if item.directory == path { SimulatedFileSystem.apply(item.change, to: &s.durableNames) } else { rest.append(item) }
            }
            s.pending = rest
        }
    }

    /// See `SecureStoreFileSystem.mode`.
    public func mode(_ path: String) throws(SecureStoreError) -> UInt32? {
        try state.withLock { (s: inout State) throws(SecureStoreError) in
            try SimulatedFileSystem.checkAlive(s, "stat")
            if let mode = s.directories[path] { return mode }
            guard let inode = s.names[path] else { return nil }
            return s.inodes[inode]?.mode
        }
    }

    /// See `SecureStoreFileSystem.setMode`.
    public func setMode(_ path: String, _ mode: UInt32) throws(SecureStoreError) {
        try state.withLock { (s: inout State) throws(SecureStoreError) in
            if try SimulatedFileSystem.step(&s, "chmod \(path)") { throw .io(operation: "chmod", path: path, errno: EIO) }
            if s.directories[path] != nil { s.directories[path] = mode; return }
            guard let inode = s.names[path] else { throw .io(operation: "chmod", path: path, errno: ENOENT) }
            s.inodes[inode]?.mode = mode
        }
    }
}
