/// Why a portal form body was refused (the page answers 400 with this sentence).
public struct PortalFormError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong with the form, for the page and the log (never a field's value).
    public var description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}

/// An `application/x-www-form-urlencoded` body of a portal form (WHATWG URL standard,
/// section 5.1), parsed strictly: a size limit, valid percent escapes and UTF-8 only, one
/// value per field name; fields the page does not ask for are ignored.
public struct PortalForm: Sendable, Equatable {
    /// The largest body a portal form may have (the forms hold a user name, a role or a VIN).
    public static let maximumBodySize = 4096

    /// The fields, by name.
    public private(set) var fields: [String: String]

    /// Creates a form from already decoded fields.
    public init(fields: [String: String]) {
        self.fields = fields
    }

    /// Parses a body.
    /// - Throws: `PortalFormError` when the body is larger than `limit`, has a bad percent
    ///   escape, is not UTF-8 after decoding, has a field without a name, or repeats a field.
    public static func parse(_ body: [UInt8], limit: Int = maximumBodySize) throws(PortalFormError) -> PortalForm {
        guard body.count <= limit else {
            throw PortalFormError("the form is larger than \(limit) bytes")
        }
        var fields: [String: String] = [:]
        for pair in body.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let name: ArraySlice<UInt8>
            let value: ArraySlice<UInt8>
            if let equals = pair.firstIndex(of: UInt8(ascii: "=")) {
                name = pair[pair.startIndex..<equals]
                value = pair[(equals + 1)...]
            } else {
                name = pair
                value = []
            }
            let decodedName = try decode(name)
            guard !decodedName.isEmpty else { throw PortalFormError("a form field has no name") }
            guard fields[decodedName] == nil else {
                throw PortalFormError("the form field \(quoted(decodedName)) is given more than once")
            }
            fields[decodedName] = try decode(value)
        }
        return PortalForm(fields: fields)
    }

    /// The value of a field the page needs.
    /// - Throws: `PortalFormError` when the field is missing or empty.
    public func required(_ name: String) throws(PortalFormError) -> String {
        guard let value = fields[name], !value.isEmpty else {
            throw PortalFormError("the form field \(Self.quoted(name)) is missing")
        }
        return value
    }

    /// Decodes one name or value: `+` is a space, `%XX` a byte, the result UTF-8.
    static func decode(_ bytes: ArraySlice<UInt8>) throws(PortalFormError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "+"):
                out.append(UInt8(ascii: " "))
                index += 1
            case UInt8(ascii: "%"):
                guard index + 2 < bytes.endIndex,
                      let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
                else { throw PortalFormError("the form has a bad percent escape") }
                out.append(high << 4 | low)
                index += 3
            default:
                out.append(byte)
                index += 1
            }
        }
        guard let text = String(validating: out, as: UTF8.self) else {
            throw PortalFormError("the form is not UTF-8")
        }
        return text
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// A field name for a message: printable ASCII only, at most 32 characters.
    private static func quoted(_ name: String) -> String {
        let printable = name.unicodeScalars.prefix(32).map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" }
        return "'" + String(printable) + "'"
    }
}
