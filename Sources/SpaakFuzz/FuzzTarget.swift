import Foundation

/// A coverage-guided fuzz target: one parser of outside bytes, driven by one input.
///
/// Each target turns the input into calls of the public API (frames, requests, file
/// bytes) and checks the invariants the caller relies on with `precondition`, so that a
/// violated invariant is a crash libFuzzer reports, like a trap or a memory error. The same
/// function replays the committed corpus in `swift test` (`SpaakFuzzTests`), so every crash
/// ever found stays a regression test without libFuzzer.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// ISO 15765-2 receiver and sender (`ISOTPChannel`): a frame sequence with time steps.
    case isotp
    /// ISO 14229-1 server (`DiagnosticServer`): requests in a chosen session and security state.
    case uds
    /// The whole module (`SpaakModule` on an in-memory store): UDS, C2V and TBM frames.
    case module
    /// The cloud TLV codec (`CloudMessageCodec.decode`).
    case cloudTLV = "cloud-tlv"
    /// The C2V verifier (`C2VVerifier.verify`), with messages re-signed so that every rule is reached.
    case c2v
    /// KeyM certificate checks (`KeyM.check`) of DER bytes in each slot.
    case keym
    /// The secure store's file decoding: `FileSecureStore` opening a folder in which one file
    /// (entry, journal, manifest, device key, stray temporary) holds the input bytes.
    case store
    /// The APDU channel's parsers (`CommandAPDU`, `ResponseAPDU`, `BERTLV`, `PairingCommand`,
    /// every `PairingResponse` parser) on the same bytes.
    case apdu
    /// `OwnerPairingMachine` through whole sessions with the device's answers from the input,
    /// taps, removals, window and store events and time.
    case pairing
    /// `NFCStatusSupervisor` and `HURequestReceiver` with frames and time steps.
    case nfc

    /// Runs one input; returns normally unless an invariant is violated (then it traps).
    public func run(_ bytes: [UInt8]) {
        switch self {
        case .isotp: ISOTPFuzz.run(bytes)
        case .uds: UDSFuzz.run(bytes)
        case .module: ModuleFuzz.run(bytes)
        case .cloudTLV: CloudFuzz.decode(bytes)
        case .c2v: CloudFuzz.verify(bytes)
        case .keym: KeyMFuzz.run(bytes)
        case .store: StoreFuzz.run(bytes)
        case .apdu: APDUFuzz.run(bytes)
        case .pairing: PairingFuzz.run(bytes)
        case .nfc: NFCFuzz.run(bytes)
        }
    }

    /// The repository root, found from this source file (the harness runs in the tree).
    public static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// `fuzz/corpus/<target>`: the committed seed corpus.
    public var corpusDirectory: URL { FuzzTarget.repositoryRoot.appendingPathComponent("fuzz/corpus/\(rawValue)") }

    /// `fuzz/crashes/<target>`: every crash input ever found (kept as a regression test).
    public var crashDirectory: URL { FuzzTarget.repositoryRoot.appendingPathComponent("fuzz/crashes/\(rawValue)") }
}

/// Reads an input front to back; past the end every read gives zeros / empty arrays, so a
/// harness never has to check lengths.
struct FuzzReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isEmpty: Bool { offset >= bytes.count }

    var remaining: [UInt8] { isEmpty ? [] : Array(bytes[offset...]) }

    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint16() -> UInt16 { UInt16(byte()) << 8 | UInt16(byte()) }

    mutating func bytes(_ count: Int) -> [UInt8] {
        let end = min(bytes.count, offset + max(0, count))
        guard offset < end else { return [] }
        defer { offset = end }
        return Array(bytes[offset..<end])
    }

    mutating func rest() -> [UInt8] {
        defer { offset = bytes.count }
        return remaining
    }
}
