import CloudProtocol
import Crypto

/// The cloud TLV codec and the C2V verifier.
enum CloudFuzz {
    /// Decodes the input; a decoded message must encode again (the codec accepts only what
    /// it can produce).
    static func decode(_ bytes: [UInt8]) {
        guard let decoded = try? CloudMessageCodec.decode(bytes) else { return }
        precondition(decoded.signedBytes.count < bytes.count, "signed bytes cover the signature")
        _ = try? decoded.message.encode()
    }

    /// The signing key of the fuzz "VOS" and "[ZZ2]" (a fixed scalar).
    static let key = try! P256.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: 0x11, count: 32))

    /// Verifies the input as a C2V message. The first byte chooses the expectation (which
    /// response types, an outstanding transaction id, the push types), the last accepted
    /// counter, whether the signer certificate validates, and whether the message is
    /// re-signed with the trusted key (so that rules 4–7 are reached).
    ///
    /// Invariant: an accepted message carries this module's serial, a counter above the
    /// last one, and is a push or answers the outstanding request.
    static func verify(_ bytes: [UInt8]) {
        var input = FuzzReader(bytes)
        let flags = input.byte()
        let typeBits = input.byte()
        var message = input.rest()
        let types = CloudMessageType.allCases.filter { $0.direction == .cloudToVehicle }
        let chosen = Set(types.enumerated().filter { typeBits >> ($0.offset % 8) & 1 != 0 }.map(\.element))
        if flags & 0x01 != 0, let decoded = try? CloudMessageCodec.decode(message),
           let unsigned = try? decoded.message.encodeUnsigned(),
           let signature = try? key.signature(for: unsigned).derRepresentation,
           let resigned = try? decoded.message.encode(signature: Array(signature)) {
            message = resigned
        }
        let outstanding: [UInt8]? = flags & 0x02 != 0 ? (try? CloudMessageCodec.decode(message))?.message.transactionID : nil
        let expectation = C2VExpectation(responseTypes: flags & 0x04 != 0 ? chosen : [], outstandingTransactionID: outstanding,
                                         pushTypes: flags & 0x08 != 0 ? chosen : [])
        let lastCounter: UInt32? = flags & 0x10 != 0 ? UInt32(flags >> 5) * 3 : nil
        let certificateValid = flags & 0x80 != 0
        let trust = ClosureSignerTrust(
            publicKey: { der in der.isEmpty ? .failure(SignerTrustFailure("empty")) : .success(key.publicKey) },
            validate: { _ in certificateValid ? .success(()) : .failure(SignerTrustFailure("not valid")) },
            ownerKeyTerminationKey: { .success(key.publicKey) })
        let verdict = C2VVerifier.verify(message, expectation: expectation, lastCounter: lastCounter,
                                         serial: "SPK0000000001", trust: trust)
        if let accepted = verdict.message {
            precondition(accepted.serial == "SPK0000000001", "accepted another module's message")
            if let lastCounter { precondition(accepted.counter > lastCounter, "accepted a replayed counter") }
            precondition(accepted.type.direction == .cloudToVehicle, "accepted a V2C message")
        }
    }
}
