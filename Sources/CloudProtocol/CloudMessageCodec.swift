import SpaakCore

/// The decoder of ICD 7.1 / 7.2 and the per-field checks shared with the encoder.
///
/// Decisions where the ICD is open:
/// - The tag set is closed: an unknown tag is malformed (`.unknownTag`), not skipped.
/// - The VIN 0x04 is optional in every message: only the sender knows whether it knows the
///   VIN, so the decoder accepts a message with or without it (never checks it against a VIN).
/// - Every payload tag of ICD 7.2 is mandatory for its type but the owner key id 0x18 of
///   0x0D, which is present exactly when the state 0x19 has a key (2 pending, 3 active);
///   no other payload tag is allowed.
/// - 0x20 is mandatory for every C2V type from the VOS and forbidden otherwise, including
///   OwnerKeyTermination 0x0C, which the KTS signs and the module checks with [ZZ2].
/// - Text fields (serial, VIN, subject id) are printable ASCII 0x20…0x7E; serial and subject
///   id are not empty; DER fields (CSR, certificates, signature) are not empty.
public enum CloudMessageCodec {
    /// A decoded message and the bytes its signature covers (everything before 0xFF).
    public struct Decoded: Sendable, Hashable {
        /// The message.
        public var message: CloudMessage
        /// The covered bytes, exactly as received.
        public var signedBytes: [UInt8]
    }

    /// Checks one value against its tag: length range, then printable ASCII for text fields.
    public static func checkValue(_ tag: CloudTag, _ value: [UInt8]) throws(CloudMessageError) {
        guard tag.allowedLengths.contains(value.count) else {
            throw .wrongLength(tag, length: value.count, allowed: tag.allowedLengths)
        }
        if tag.isASCII, value.contains(where: { $0 < 0x20 || $0 > 0x7E }) { throw .notASCII(tag) }
    }

    /// The tags a message of `type` may carry.
    public static func allowedTags(for type: CloudMessageType) -> Set<CloudTag> {
        var tags: Set<CloudTag> = [.messageType, .version, .serial, .vin, .transactionID, .counter, .useCase, .signature]
        tags.formUnion(type.payloadTags)
        if type.carriesSignerCertificate { tags.insert(.signerCertificate) }
        return tags
    }

    /// The tags a message of `type` must carry (all allowed tags but the VIN and the
    /// optional payload tags).
    public static func mandatoryTags(for type: CloudMessageType) -> Set<CloudTag> {
        allowedTags(for: type).subtracting([.vin]).subtracting(type.optionalPayloadTags)
    }

    /// The message type byte of a raw message, read from its first TLV without looking
    /// further: tags are in ascending order and the type (0x01) is mandatory, so a message
    /// starts with `01 00 01 type`. For routing and logs before (or instead of) `decode`,
    /// which checks everything else, the version included. `nil` if the message does not
    /// start with a type TLV of length 1; any byte otherwise, even one no type has.
    public static func peekRawMessageType(_ bytes: [UInt8]) -> UInt8? {
        let header = [CloudTag.messageType.rawValue, 0x00, 0x01]
        guard bytes.count > header.count, bytes.starts(with: header) else { return nil }
        return bytes[header.count]
    }

    /// The message type of a raw message, as `peekRawMessageType` reads it; `nil` also for
    /// a byte no type has.
    public static func peekMessageType(_ bytes: [UInt8]) -> CloudMessageType? {
        peekRawMessageType(bytes).flatMap(CloudMessageType.init(rawValue:))
    }

    /// Decodes and checks `bytes`; throws the first fault found, in this order: size, TLV
    /// framing and tag order, each value's length and text, message type, version, tags
    /// allowed for the type, tags missing for the type, field values.
    public static func decode(_ bytes: [UInt8]) throws(CloudMessageError) -> Decoded {
        guard !bytes.isEmpty else { throw .empty }
        guard bytes.count <= CloudTLV.maximumMessageSize else { throw .tooLarge(count: bytes.count) }
        let (fields, signatureOffset) = try readFields(bytes)

        guard let typeValue = fields[.messageType] else { throw .missingMessageType }
        guard let type = CloudMessageType(rawValue: typeValue[0]) else { throw .unknownMessageType(typeValue[0]) }
        guard let version = fields[.version] else { throw .missingTag(.version, type: type) }
        guard version[0] == CloudMessage.protocolVersion else { throw .unsupportedVersion(version[0]) }

        let allowed = allowedTags(for: type)
        if let extra = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw .tagNotAllowed(extra, type: type)
        }
        if let missing = mandatoryTags(for: type).sorted().first(where: { fields[$0] == nil }) {
            throw .missingTag(missing, type: type)
        }

        // All mandatory tags are present and length-checked from here on.
        let useCaseValue = fields[.useCase] ?? []
        guard let useCaseByte = useCaseValue.first, let useCase = UseCase(rawValue: useCaseByte), useCase.isCloudUseCase else {
            throw .unknownUseCase(useCaseValue.first ?? 0)
        }
        let payload = try CloudPayload.parse(type: type, fields: fields)
        let counterBytes = fields[.counter] ?? []
        let message = CloudMessage(
            serial: String(decoding: fields[.serial] ?? [], as: UTF8.self),
            vin: fields[.vin].map { String(decoding: $0, as: UTF8.self) },
            transactionID: fields[.transactionID] ?? [],
            counter: counterBytes.count == 4 ? UInt32(counterBytes.bigEndianInteger(at: 0, count: 4)) : 0,
            useCase: useCase,
            payload: payload,
            signerCertificate: fields[.signerCertificate],
            signature: fields[.signature] ?? []
        )
        return Decoded(message: message, signedBytes: Array(bytes[0..<signatureOffset]))
    }

    /// Walks the TLVs up to and including the signature: framing, known tags, strictly
    /// ascending order, each value checked; returns the values and the signature's offset.
    private static func readFields(_ bytes: [UInt8]) throws(CloudMessageError) -> ([CloudTag: [UInt8]], Int) {
        var fields: [CloudTag: [UInt8]] = [:]
        var previous: CloudTag?
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 3 else { throw .truncatedHeader(offset: offset) }
            let rawTag = bytes[offset]
            let length = Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
            let available = bytes.count - offset - 3
            guard length <= available else { throw .truncatedValue(tag: rawTag, declared: length, available: available) }
            guard let tag = CloudTag(rawValue: rawTag) else { throw .unknownTag(rawTag) }
            if let previous {
                guard tag != previous else { throw .duplicateTag(tag) }
                guard tag > previous else { throw .tagOutOfOrder(tag, after: previous) }
            }
            let value = Array(bytes[(offset + 3)..<(offset + 3 + length)])
            try checkValue(tag, value)
            fields[tag] = value
            previous = tag
            if tag == .signature {
                let rest = available - length
                guard rest == 0 else { throw .bytesAfterSignature(count: rest) }
                return (fields, offset)
            }
            offset += 3 + length
        }
        throw .missingSignature
    }
}
