import APDU

/// The APDU channel's parsers (ICD 8.3): the whole input as a command APDU (and, when it is
/// one, as a pairing command), as a response APDU (and its data through every response
/// parser of the module), and as BER-TLV.
///
/// Invariants: nothing traps; a parsed command or response re-encodes to the input bytes (both
/// forms are canonical); parsed BER-TLV re-encodes to the input when every length has its
/// shortest form and to fewer bytes otherwise, and its re-encoding parses to the same objects;
/// a parsed pairing command or response re-encodes to the input when its TLV data is
/// canonical (shortest lengths, tags in the encoder's order), and to the same values otherwise;
/// the sizes each parser promises hold.
enum APDUFuzz {
    static func run(_ bytes: [UInt8]) {
        if let command = try? CommandAPDU(bytes: bytes) {
            precondition(command.bytes == bytes, "command APDU \(command) re-encodes differently")
            if let pairing = try? PairingCommand(apdu: command) { check(pairing, from: command) }
        }
        if let response = try? ResponseAPDU(bytes: bytes) {
            precondition(response.bytes == bytes, "response APDU \(response) re-encodes differently")
            checkResponseParsers(response.data)
        }
        if let tlv = try? BERTLV(parsing: bytes) { check(tlv, from: bytes) }
    }

    /// BER-TLV: the shortest length forms reproduce the input; any other input is longer.
    static func check(_ tlv: BERTLV, from bytes: [UInt8]) {
        let encoded = tlv.bytes
        precondition((try? BERTLV(parsing: encoded)) == tlv, "BER-TLV re-encoding parses to other objects")
        precondition(encoded.count <= bytes.count, "BER-TLV re-encoding is longer than the input")
        if encoded.count == bytes.count { precondition(encoded == bytes, "canonical BER-TLV re-encodes differently") }
        precondition(Set(tlv.objects.map(\.tag)).count == tlv.objects.count, "BER-TLV accepted a tag twice")
    }

    /// Whether `data` is BER-TLV with shortest lengths and the tags in `order`.
    static func canonical(_ data: [UInt8], order: [UInt8]) -> Bool {
        guard let tlv = try? BERTLV(parsing: data) else { return false }
        return tlv.bytes == data && tlv.objects.map(\.tag) == order
    }

    /// A pairing command parses from its own encoding to the same command; the input is
    /// reproduced where its TLV data was canonical.
    static func check(_ pairing: PairingCommand, from command: CommandAPDU) {
        let encoded = pairing.apdu
        precondition((try? PairingCommand(apdu: encoded)) == pairing, "\(pairing.name) does not parse from its encoding")
        let order = (try? BERTLV(parsing: encoded.data))?.objects.map(\.tag) ?? []
        switch pairing {
        case .select, .getData:
            precondition(encoded == command, "\(pairing.name) re-encodes differently")
        case .spake2Request(let parameters):
            precondition(parameters.salt.count == 16 && parameters.vin.count == 17, "SPAKE2+ REQUEST sizes")
            fallthrough
        case .spake2Verify, .writeData, .auth0, .auth1:
            if canonical(command.data, order: order) {
                precondition(encoded == command, "canonical \(pairing.name) re-encodes differently")
            }
        }
        switch pairing {
        case .spake2Verify(let shareV, let confirmV):
            precondition(shareV.count == 65 && confirmV.count == 32, "SPAKE2+ VERIFY sizes")
        case .writeData(let sealed):
            precondition(sealed.count >= 17, "WRITE DATA shorter than a GCM tag")
        case .auth0(let key, let id):
            precondition(key.count == 65 && id.count == 16, "AUTH0 sizes")
        case .auth1(let signature):
            precondition(PairingTag.signatureSizes.contains(signature.count), "AUTH1 signature size")
        case .select, .getData, .spake2Request:
            break
        }
    }

    /// Every parser of the module's side on one response's data.
    static func checkResponseParsers(_ data: [UInt8]) {
        if let versions = try? PairingResponse.versions(data) {
            precondition(!versions.isEmpty && versions.allSatisfy { $0.count == 2 }, "versions are 2 bytes each")
            single(PairingTag.versions, versions.flatMap { $0 }, data)
        }
        if let share = try? PairingResponse.shareP(data) {
            precondition(share.count == 65, "shareP size")
            single(PairingTag.shareP, share, data)
        }
        if let confirm = try? PairingResponse.confirmP(data) {
            precondition(confirm.count == 32, "confirmP size")
            single(PairingTag.confirmP, confirm, data)
        }
        if let sealed = try? PairingResponse.encrypted(data) {
            precondition(sealed.count >= 17, "tag 70 shorter than a GCM tag")
            single(PairingTag.encrypted, sealed, data)
        }
        if let key = try? PairingResponse.deviceEphemeralKey(data) {
            precondition(key.count == 65, "device ephemeral key size")
            single(PairingTag.deviceEphemeralKey, key, data)
        }
        if let signature = try? PairingResponse.deviceSignature(data) {
            precondition(PairingTag.signatureSizes.contains(signature.count), "device signature size")
            single(PairingTag.signature, signature, data)
        }
        if let (key, name) = try? PairingResponse.endpoint(data) {
            precondition(key.count == 65 && name.utf8.count <= PairingTag.friendlyNameMaxBytes, "endpoint sizes")
            let objects: [(tag: UInt8, value: [UInt8])] = [(PairingTag.endpointKey, key), (PairingTag.friendlyName, Array(name.utf8))]
            let encoded = BERTLV(objects).bytes
            let reparsed = try? PairingResponse.endpoint(encoded)
            precondition(reparsed?.key == key && reparsed?.friendlyName == name, "endpoint does not parse from its encoding")
            if canonical(data, order: objects.map(\.tag)) { precondition(encoded == data, "canonical endpoint re-encodes differently") }
        }
    }

    /// A one-object response: its canonical encoding is the input when the input is canonical.
    static func single(_ tag: UInt8, _ value: [UInt8], _ data: [UInt8]) {
        let encoded = BERTLV([(tag, value)]).bytes
        if canonical(data, order: [tag]) {
            precondition(encoded == data, "canonical response tag \(tag) re-encodes differently")
        } else {
            precondition((try? BERTLV(parsing: data))?[tag] == value, "response tag \(tag) parsed another value")
        }
    }
}
