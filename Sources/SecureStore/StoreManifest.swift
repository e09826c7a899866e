import SpaakCore

/// `manifest`: what the store folder holds, committed in the same journal commit as the
/// entries it describes, so that a missing, extra or older entry file is detected.
///
///     "SPKM" | version 1 | generation (8, big endian) | count (2, big endian)
///     | count × (name length | file name | version (32)) | HMAC-SHA256 over everything before it
///
/// An entry's *version* is the HMAC-SHA256 tag that ends its file: it changes with every
/// write of a new value (secrets are re-encrypted with a fresh nonce at every write), so an
/// older genuine copy of the file put back reads as another version. The generation grows
/// by one at every commit; a monotonic counter (`SecureStoreMonotonicCounter`) follows it.
struct StoreManifest: Sendable, Hashable {
    static let name = "manifest"
    static let magic: [UInt8] = Array("SPKM".utf8)

    /// Incremented by every commit.
    var generation: UInt64
    /// The version (file tag) of every entry the store holds.
    var versions: [SecureStoreEntry: [UInt8]]

    /// The version of an entry file: its last 32 bytes (the HMAC-SHA256 tag; for a file
    /// shorter than that, the whole file, which is corrupt anyway).
    static func version(ofFile file: [UInt8]) -> [UInt8] {
        Array(file.suffix(RecordCodec.tagLength))
    }

    func encode(keys: StoreKeys) -> [UInt8] {
        let sorted = versions.sorted { $0.key < $1.key }
        var body = StoreManifest.magic + [1] + generation.bigEndianBytes
        body += [UInt8(sorted.count >> 8 & 0xFF), UInt8(sorted.count & 0xFF)]
        for (entry, version) in sorted {
            let fileName = Array(entry.fileName.utf8)
            body += [UInt8(fileName.count)] + fileName + version
        }
        return body + keys.tag(body)
    }

    /// Why a manifest file cannot be trusted.
    struct Damage: Error, Hashable, CustomStringConvertible {
        let description: String
    }

    /// The manifest, or why it cannot be trusted.
    static func decode(_ file: [UInt8], keys: StoreKeys) -> Result<StoreManifest, Damage> {
        func damaged(_ why: String) -> Result<StoreManifest, Damage> { .failure(Damage(description: "the manifest is damaged: \(why)")) }
        let header = 4 + 1 + 8 + 2
        guard file.count >= header + RecordCodec.tagLength else { return damaged("\(file.count) bytes") }
        let body = Array(file[0..<(file.count - RecordCodec.tagLength)])
        guard keys.isValid(tag: Array(file[(file.count - RecordCodec.tagLength)...]), for: body) else {
            return damaged("integrity tag does not match (tampered, damaged or another device key)")
        }
        guard Array(body[0..<4]) == magic, body[4] == 1 else { return damaged("bad magic or version") }
        let generation = body[5..<13].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let count = Int(body[13]) << 8 | Int(body[14])
        var versions: [SecureStoreEntry: [UInt8]] = [:]
        var offset = header
        for _ in 0..<count {
            guard offset < body.count else { return damaged("truncated") }
            let length = Int(body[offset])
            let end = offset + 1 + length + RecordCodec.tagLength
            guard end <= body.count,
                  let entry = SecureStoreEntry(fileName: String(decoding: body[(offset + 1)..<(offset + 1 + length)], as: UTF8.self)),
                  versions[entry] == nil
            else { return damaged("bad or repeated file name") }
            versions[entry] = Array(body[(offset + 1 + length)..<end])
            offset = end
        }
        guard offset == body.count else { return damaged("trailing bytes") }
        return .success(StoreManifest(generation: generation, versions: versions))
    }
}

/// What the store knows about its manifest at one access.
enum StoreManifestState: Sendable, Hashable {
    /// Present, authentic, and not older than the monotonic counter.
    case trusted(StoreManifest)
    /// Missing next to entries, damaged, unreadable, or older than the monotonic counter
    /// (the folder was rolled back): every entry reads as corrupt with this reason.
    case untrusted(String)

    /// The entries a commit carries over into the next manifest: none from an untrusted
    /// manifest, so that no commit ever blesses a file the store did not write itself.
    var carriedVersions: [SecureStoreEntry: [UInt8]] {
        if case .trusted(let manifest) = self { return manifest.versions }
        return [:]
    }
}

/// The pure rules that judge the folder against its manifest (`FileSecureStore` reads the
/// files, these functions decide).
enum StoreManifestCheck {
    /// The state of the manifest from what was read: the manifest file (`nil` = none),
    /// whether the folder holds any entry file, and the monotonic counter's value (`nil` =
    /// no counter; `.failure` = the counter cannot be read).
    static func state(manifestFile: [UInt8]?, folderHoldsEntries: Bool,
                      counter: Result<UInt64, SecureStoreError>?, keys: StoreKeys) -> StoreManifestState {
        let counterValue: UInt64?
        switch counter {
        case nil: counterValue = nil
        case .success(let value)?: counterValue = value
        case .failure(let error)?: return .untrusted("the monotonic counter cannot be read (\(error)); the store fails closed")
        }
        guard let manifestFile else {
            if folderHoldsEntries { return .untrusted("the manifest is missing (deleted?) but the folder holds entries") }
            if let counterValue, counterValue > 0 {
                return .untrusted("the manifest is missing and the monotonic counter is at \(counterValue): the folder was emptied or rolled back")
            }
            return .trusted(StoreManifest(generation: 0, versions: [:]))
        }
        switch StoreManifest.decode(manifestFile, keys: keys) {
        case .failure(let damage):
            return .untrusted(damage.description)
        case .success(let manifest):
            if let counterValue, manifest.generation < counterValue {
                return .untrusted("the manifest is at generation \(manifest.generation) but the monotonic counter at \(counterValue): the folder was rolled back")
            }
            return .trusted(manifest)
        }
    }

    /// Why the entry's file does not match the manifest, `nil` if it does.
    /// - Parameter file: the entry file's content, `nil` if there is none.
    static func mismatch(_ entry: SecureStoreEntry, file: [UInt8]?, state: StoreManifestState) -> String? {
        switch state {
        case .untrusted(let reason):
            return reason
        case .trusted(let manifest):
            switch (manifest.versions[entry], file) {
            case (nil, nil):
                return nil
            case (nil, .some):
                return "the file is not in the manifest (generation \(manifest.generation)): put there from outside"
            case (.some, nil):
                return "the file is missing: the manifest (generation \(manifest.generation)) lists it (deleted?)"
            case (.some(let version), .some(let file)):
                guard version == StoreManifest.version(ofFile: file) else {
                    return "the file is not the version the manifest (generation \(manifest.generation)) lists: an older or foreign copy"
                }
                return nil
            }
        }
    }

    /// The next manifest after a commit: the carried-over versions with the commit's new
    /// files (`nil` = removed), one generation above both the old one and the counter.
    static func next(after state: StoreManifestState, counter: UInt64?,
                     changes: [(entry: SecureStoreEntry, file: [UInt8]?)]) -> StoreManifest {
        var versions = state.carriedVersions
        for change in changes { versions[change.entry] = change.file.map(StoreManifest.version(ofFile:)) }
        var base = counter ?? 0
        if case .trusted(let manifest) = state { base = max(base, manifest.generation) }
        return StoreManifest(generation: base == UInt64.max ? base : base + 1, versions: versions)
    }
}
