import Foundation
import SecureStore
import TestPKI

/// Writes the seed corpora of `fuzz/corpus/<target>` from real traffic: the UDS requests of
/// plant provisioning, the ISO-TP frames carrying them, the C2V/V2C messages of a PP-01 run
/// (captured by `spaak-soak seeds`), the test PKI's certificates and the files of a
/// provisioned store. Each seed is prefixed with the state/selector byte its target reads.
public enum FuzzSeeds {
    /// Writes every corpus into `root/corpus`; `requests` are UDS requests and `c2v`/`v2c`
    /// cloud messages seen in a provisioning run, `certificates` DER certificates seen there.
    public static func write(root: URL, requests: [[UInt8]], c2v: [[UInt8]], v2c: [[UInt8]], certificates: [[UInt8]]) throws {
        var corpus: [FuzzTarget: [[UInt8]]] = [:]
        let small = requests.filter { $0.count <= 200 }
        // UDS: each request in four states, plus a whole session in one input.
        for (index, request) in small.enumerated() {
            corpus[.uds, default: []].append([[0x00, 0x01, 0x03, 0x07][index % 4]] + udsOp(request))
        }
        corpus[.uds, default: []].append([0x03] + small.prefix(12).flatMap(udsOp) + [0x05, 0x10, 0x11, 0x00])
        // Module: requests as ISO-TP messages, in an empty and a provisioned store.
        for (index, request) in requests.prefix(24).enumerated() {
            corpus[.module, default: []].append([UInt8(index % 2 == 0 ? 0x04 : 0x05)] + moduleOp(request) + [0x02])
        }
        for message in c2v.prefix(2) {
            // A first frame on 0x6A8 (op 0x80 | target 2 | length 8) in a provisioned store.
            let op: UInt8 = 0x80 | 0x02 | (7 << 2)
            var input: [UInt8] = [0x01, op, 0x10, UInt8(message.count & 0xFF)]
            input += message.prefix(6)
            corpus[.module, default: []].append(input)
        }
        // ISO-TP: the frames of each request as a tester would send them.
        for request in requests.prefix(16) {
            corpus[.isotp, default: []].append([0x02] + isotpFrames(request))
        }
        corpus[.isotp, default: []].append([0x03] + isotpFrames(Array(repeating: 0x55, count: 40)))
        corpus[.isotp, default: []].append([0x12, 0x01, 0x00, 0x20] + Array(repeating: 0x31, count: 32) + [0x03, 0x30, 0x00, 0x00])
        // Cloud codec and verifier.
        for message in c2v + v2c { corpus[.cloudTLV, default: []].append(message) }
        for (index, message) in c2v.enumerated() {
            corpus[.c2v, default: []].append([[0x01, 0x0F, 0x1D, 0x8F, 0x9B][index % 5], 0xFF] + message)
        }
        // KeyM: each certificate in its slot and in another one.
        let pki = FuzzFixtures.pki
        let roles: [(Int, TestPKIRole)] = [(0, .j), (1, .j1), (2, .jPhysicalKey), (3, .z1), (4, .zz2)]
        for (slot, role) in roles { corpus[.keym, default: []].append([UInt8(slot)] + pki[role].der) }
        for (index, der) in certificates.enumerated() { corpus[.keym, default: []].append([UInt8(5 + index % 2)] + der) }
        corpus[.keym, default: []].append([0x41] + pki[.vos].der)
        // Store: every file of a provisioned store, unchanged, at its own index.
        let fileSystem = FuzzFixtures.provisionedCopy()
        let names = try fileSystem.contentsOfDirectory(FuzzFixtures.directory).sorted()
        for (index, name) in names.enumerated() {
            if let bytes = try fileSystem.readFile(FuzzFixtures.directory + "/" + name, limit: 1 << 16) {
                corpus[.store, default: []].append([UInt8(index)] + bytes)
            }
        }
        corpus.merge(PairingSeeds.corpora()) { $0 + $1 }
        try save(corpus, root: root)
    }

    /// Writes the corpora of the owner-pairing targets (`apdu`, `pairing`, `nfc`) alone: they
    /// are built from the ICD's messages and need no recorded traffic (`spaak-fuzz seeds`).
    public static func writePairing(root: URL) throws {
        try save(PairingSeeds.corpora(), root: root)
    }

    static func save(_ corpus: [FuzzTarget: [[UInt8]]], root: URL) throws {
        for (target, inputs) in corpus {
            let folder = root.appendingPathComponent("corpus/\(target.rawValue)")
            try? FileManager.default.removeItem(at: folder)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for (index, input) in inputs.enumerated() {
                try Data(input).write(to: folder.appendingPathComponent(String(format: "seed-%03d", index)))
            }
        }
    }

    /// A UDS target request operation.
    static func udsOp(_ request: [UInt8]) -> [UInt8] {
        request.count < 0x3F ? [0xC0 | UInt8(request.count)] + request
            : [0xFF, UInt8(request.count >> 8), UInt8(request.count & 0xFF)] + request
    }

    /// A module target request operation.
    static func moduleOp(_ request: [UInt8]) -> [UInt8] {
        request.count < 0x3F ? [0x40 | UInt8(request.count)] + request
            : [0x7F, UInt8(request.count >> 8), UInt8(request.count & 0xFF)] + request
    }

    /// ISO-TP target operations: the classic frames of `message` (SF, or FF + CFs) received.
    static func isotpFrames(_ message: [UInt8]) -> [UInt8] {
        func frame(_ data: [UInt8]) -> [UInt8] {
            let padded = data + [UInt8](repeating: 0xCC, count: max(0, 8 - data.count))
            return [0x83] + padded
        }
        if message.count <= 7 { return frame([UInt8(message.count)] + message) }
        var out = frame([0x10 | UInt8(message.count >> 8 & 0x0F), UInt8(message.count & 0xFF)] + message.prefix(6))
        var offset = 6
        var sequence: UInt8 = 1
        while offset < message.count {
            out += frame([0x20 | sequence] + message[offset..<min(message.count, offset + 7)])
            offset += 7
            sequence = (sequence + 1) & 0x0F
        }
        return out
    }
}
