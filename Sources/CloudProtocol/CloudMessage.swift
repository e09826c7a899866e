import SpaakCore

/// A SpaaK ⇄ cloud message (ICD 7.1, 7.2): the header, the payload, the signer certificate
/// (C2V from the VOS) and the signature. `encodeUnsigned()` gives the bytes the signature
/// covers; `encode(signature:)` the whole message. The encoding is canonical (ascending tags,
/// fixed 2-byte lengths), so decoding then re-encoding gives back the same bytes.
public struct CloudMessage: Sendable, Hashable {
    /// The protocol version this codec speaks, tag 0x02.
    public static let protocolVersion: UInt8 = 1

    /// The ECU serial number, tag 0x03 (printable ASCII, 1…32).
    public var serial: String
    /// The VIN, tag 0x04 (17 printable ASCII), `nil` while the module does not know it.
    public var vin: String?
    /// The transaction id, tag 0x05 (16 bytes).
    public var transactionID: [UInt8]
    /// The sender's counter, tag 0x06.
    public var counter: UInt32
    /// The use case, tag 0x07.
    public var useCase: UseCase
    /// The payload; it fixes the message type.
    public var payload: CloudPayload
    /// The signer certificate, tag 0x20, DER: present exactly for C2V types from the VOS.
    public var signerCertificate: [UInt8]?
    /// The signature, tag 0xFF, DER ECDSA; empty until signed.
    public var signature: [UInt8]

    /// Creates a message.
    public init(
        serial: String, vin: String?, transactionID: [UInt8], counter: UInt32, useCase: UseCase,
        payload: CloudPayload, signerCertificate: [UInt8]? = nil, signature: [UInt8] = []
    ) {
        self.serial = serial
        self.vin = vin
        self.transactionID = transactionID
        self.counter = counter
        self.useCase = useCase
        self.payload = payload
        self.signerCertificate = signerCertificate
        self.signature = signature
    }

    /// The message type, tag 0x01.
    public var type: CloudMessageType { payload.type }

    /// The protocol version, tag 0x02: always 1.
    public var version: UInt8 { Self.protocolVersion }

    /// The bytes the signature covers: every TLV before 0xFF. Throws when a field breaks
    /// ICD 7.1 / 7.2 (the same checks as the decoder) or when no signature would fit.
    public func encodeUnsigned() throws(CloudMessageError) -> [UInt8] {
        var elements: [CloudTLV] = [
            CloudTLV(.messageType, [type.rawValue]),
            CloudTLV(.version, [version]),
            CloudTLV(.serial, Array(serial.utf8)),
        ]
        if let vin { elements.append(CloudTLV(.vin, Array(vin.utf8))) }
        elements.append(CloudTLV(.transactionID, transactionID))
        elements.append(CloudTLV(.counter, counter.bigEndianBytes))
        elements.append(CloudTLV(.useCase, [useCase.rawValue]))
        elements += payload.elements
        if let signerCertificate {
            guard type.carriesSignerCertificate else { throw .tagNotAllowed(.signerCertificate, type: type) }
            elements.append(CloudTLV(.signerCertificate, signerCertificate))
        } else if type.carriesSignerCertificate {
            throw .missingTag(.signerCertificate, type: type)
        }
        for element in elements {
            if let tag = CloudTag(rawValue: element.tag) { try CloudMessageCodec.checkValue(tag, element.value) }
        }
        try payload.checkConsistency()
        let bytes = CloudTLV.encode(elements)
        // Room for at least the signature header and one byte.
        guard bytes.count + 4 <= CloudTLV.maximumMessageSize else { throw .tooLarge(count: bytes.count + 4) }
        return bytes
    }

    /// The whole message with `signature` (DER ECDSA) appended as the last TLV.
    public func encode(signature: [UInt8]) throws(CloudMessageError) -> [UInt8] {
        try CloudMessageCodec.checkValue(.signature, signature)
        let bytes = try encodeUnsigned() + CloudTLV(.signature, signature).bytes
        guard bytes.count <= CloudTLV.maximumMessageSize else { throw .tooLarge(count: bytes.count) }
        return bytes
    }

    /// The whole message with its own `signature`.
    public func encode() throws(CloudMessageError) -> [UInt8] {
        try encode(signature: signature)
    }

    /// Decodes and checks a whole message (ICD 7.1, 7.2); any fault throws, nothing partial
    /// is returned. The signature is not verified here (see `C2VVerifier`).
    public static func decode(_ bytes: [UInt8]) throws(CloudMessageError) -> CloudMessage {
        try CloudMessageCodec.decode(bytes).message
    }
}
