import Foundation

/// The ECU serial numbers the PKI knows ("add ECU ids to the PKI before doing anything"):
/// `registered-serials.txt` in the hierarchy directory, one serial a line, sorted.
public struct TestPKIRegistry: Sendable, Equatable {
    /// The file name.
    public static let fileName = "registered-serials.txt"

    /// The registered serials.
    public private(set) var serials: Set<String>

    /// Creates a registry holding `serials` (not validated; see `register`).
    public init(serials: Set<String> = []) { self.serials = serials }

    /// A serial the PKI accepts: the ICD allows ASCII up to 32 characters (tag 0x03); as
    /// serials also name files here, only letters, digits, `-`, `_` and `.` (not first).
    public static func isValidSerial(_ serial: String) -> Bool {
        let bytes = Array(serial.utf8)
        let allowed = { (b: UInt8) in
            (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) || b == 0x2D || b == 0x5F || b == 0x2E
        }
        return (1...32).contains(bytes.count) && bytes.allSatisfy(allowed) && bytes.first != 0x2E
    }

    /// Adds `newSerials`; throws on the first invalid one without adding any.
    /// Returns the serials that were not registered before.
    @discardableResult
    public mutating func register(_ newSerials: [String]) throws -> [String] {
        if let bad = newSerials.first(where: { !Self.isValidSerial($0) }) { throw TestPKIError.invalidSerial(bad) }
        var added: [String] = []
        for serial in newSerials where serials.insert(serial).inserted { added.append(serial) }
        return added
    }

    /// `true` when `serial` is registered.
    public func contains(_ serial: String) -> Bool { serials.contains(serial) }

    /// Loads the registry of `directory` (empty if the file does not exist yet); lines that
    /// are empty or start with `#` are ignored.
    public static func load(from directory: URL) throws -> TestPKIRegistry {
        let url = directory.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return TestPKIRegistry() }
        let text = String(decoding: try TestPKIFiles.read(url), as: UTF8.self)
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        return TestPKIRegistry(serials: Set(lines.filter { !$0.isEmpty && !$0.hasPrefix("#") }))
    }

    /// Writes the registry into `directory`.
    public func save(to directory: URL) throws {
        let text = serials.sorted().map { $0 + "\n" }.joined()
        try TestPKIFiles.write(text, to: directory.appendingPathComponent(Self.fileName))
    }
}
