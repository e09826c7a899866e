import APDU
import CloudProtocol
import Crypto
import SPAKE2Plus
import SpaakCore

/// The steps of phase 2 and phase 3 (ICD 8.3): each response is checked strictly; anything
/// but the expected answer fails the session.
extension OwnerPairingMachine {
    mutating func response(_ bytes: [UInt8], now: Instant) {
        guard case .awaiting(let expected, _) = session else {
            log(.warning, "response APDU (\(bytes.count) bytes) with no command outstanding: ignored")
            return
        }
        let response: ResponseAPDU
        do {
            response = try ResponseAPDU(bytes: bytes)
        } catch {
            return fail("response to \(expected.command) \(error)", now: now)
        }
        guard response.status == .success else {
            return fail("\(expected.command) answered \(response.status)", now: now)
        }
        do throws(APDUError) {
            try step(expected, data: response.data, now: now)
        } catch {
            fail("response to \(expected.command) \(error)", now: now)
        }
    }

    private mutating func step(_ expected: Expected, data: [UInt8], now: Instant) throws(APDUError) {
        switch expected {
        case .select(let kind):
            let versions = try PairingResponse.versions(data)
            guard versions.contains(PairingCommand.version) else {
                log(.warning, "pairing: the device supports no common version: session ends (not an attempt)")
                session = .over
                return
            }
            switch kind {
            case .phase2(let material): spake2Request(material, now: now)
            case .phase3(let key): auth0(key, now: now)
            }
        case .shareP(let material):
            try shareP(PairingResponse.shareP(data), material: material, now: now)
        case .confirmP(let material, let verifier):
            try confirmP(PairingResponse.confirmP(data), material: material, verifier: verifier, now: now)
        case .writeAcknowledged(let encryption):
            guard data.isEmpty else { throw .malformed("WRITE DATA answers no data, got \(data.count) bytes") }
            log(.info, "pairing: the device accepted [K] and [J1]")
            send(.getData, awaiting: .endpoint(encryption), now: now)
        case .endpoint(let encryption):
            try endpoint(PairingResponse.encrypted(data), encryption: encryption, now: now)
        case .deviceEphemeralKey(let auth0):
            let key = try PairingResponse.deviceEphemeralKey(data)
            guard (try? P256.KeyAgreement.PublicKey(x963Representation: key)) != nil else {
                throw .malformed("the device ephemeral key is not a P-256 point")
            }
            session = .working(.signing(auth0, deviceEphemeralKey: key))
            output.append(.perform(.signWithVehicleKey(
                auth0.transactionID + auth0.vehicleEphemeralKey + key + Array("SpaaK AUTH1 vehicle".utf8))))
        case .deviceSignature(let auth0, let deviceKey):
            try deviceSignature(PairingResponse.deviceSignature(data), auth0: auth0, deviceEphemeralKey: deviceKey, now: now)
        }
    }

    // MARK: Phase 2

    /// Step 2: the verifier parameters.
    mutating func spake2Request(_ material: PairingMaterial, now: Instant) {
        let record = material.verifier
        let parameters = SPAKE2RequestParameters(salt: record.salt, n: record.n, r: record.r, p: record.p, vin: material.vin)
        send(.spake2Request(parameters), awaiting: .shareP(material), now: now)
    }

    /// Step 3: X checked before anything is computed, then shareV and confirmV.
    mutating func shareP(_ x: [UInt8], material: PairingMaterial, now: Instant) throws(APDUError) {
        let y = P256Scalar.random(using: &random)
        let verifier: SPAKE2PlusVerifier
        do {
            verifier = try SPAKE2PlusVerifier(identities: .ownerPairing(vin: material.vin), w0: material.verifier.w0,
                                              l: material.verifier.l, shareP: x, y: y)
        } catch {
            throw .malformed("shareP: \(error)")
        }
        send(.spake2Verify(shareV: verifier.shareV, confirmV: verifier.confirmV), awaiting: .confirmP(material, verifier), now: now)
    }

    /// Step 4: confirmP checked, then [K] and [J1] encrypted.
    mutating func confirmP(_ confirmP: [UInt8], material: PairingMaterial, verifier: SPAKE2PlusVerifier,
                           now: Instant) throws(APDUError) {
        let sharedKey: [UInt8]
        do {
            sharedKey = try verifier.confirm(confirmP: confirmP)
        } catch {
            throw .malformed("confirmP does not verify")
        }
        log(.info, "pairing: confirmP verified, the device knows the password")
        let encryption = PairingEncryption(sharedKey: sharedKey)
        let plaintext = BERTLV([(PairingTag.vehicleCertificate, material.vehicleCertificate),
                                (PairingTag.subCACertificate, material.subCACertificate)]).bytes
        let sealed: [UInt8]
        do {
            sealed = try encryption.seal(plaintext, direction: .moduleToDevice, counter: 1)
        } catch {
            throw .malformed("encryption failed: \(error)")
        }
        send(.writeData(encrypted: sealed), awaiting: .writeAcknowledged(encryption), now: now)
    }

    /// Step 5: the endpoint key, then the commit.
    mutating func endpoint(_ sealed: [UInt8], encryption: PairingEncryption, now: Instant) throws(APDUError) {
        let plaintext: [UInt8]
        do {
            plaintext = try encryption.open(sealed, direction: .deviceToModule, counter: 1)
        } catch {
            throw .malformed("GET DATA does not decrypt")
        }
        let (keyBytes, name) = try PairingResponse.endpoint(plaintext)
        guard let key = OwnerKey(publicKey: keyBytes, friendlyName: name) else {
            throw .malformed("the endpoint key is not a P-256 point")
        }
        log(.info, "pairing: endpoint key \(key) received, storing it as pending")
        session = .working(.storingPendingKey(key))
        output.append(.perform(.storePendingOwnerKey(key)))
    }

    // MARK: Phase 3

    /// Step 2: AUTH0 with a fresh ephemeral key and transaction id.
    mutating func auth0(_ key: OwnerKey, now: Instant) {
        let scalar = P256Scalar.random(using: &random)
        // A scalar in [1, n − 1] is a valid private key.
        let ephemeral = try! P256.KeyAgreement.PrivateKey(rawRepresentation: scalar.bytes)
        let auth0 = Auth0(ownerKey: key, vehicleEphemeralKey: Array(ephemeral.publicKey.x963Representation),
                          transactionID: randomBytes(16))
        send(.auth0(vehicleEphemeralKey: auth0.vehicleEphemeralKey, transactionID: auth0.transactionID),
             awaiting: .deviceEphemeralKey(auth0), now: now)
    }

    /// Step 3: the device's signature under the pending key.
    mutating func deviceSignature(_ der: [UInt8], auth0: Auth0, deviceEphemeralKey: [UInt8], now: Instant) throws(APDUError) {
        let message = auth0.transactionID + deviceEphemeralKey + auth0.vehicleEphemeralKey + Array("SpaaK AUTH1 device".utf8)
        guard let signature = try? P256.Signing.ECDSASignature(derRepresentation: der),
              auth0.ownerKey.signingKey.isValidSignature(signature, for: message) else {
            throw .malformed("the device signature does not verify under the pending owner key")
        }
        var active = auth0.ownerKey
        active.isActive = true
        log(.info, "pairing: the device proved owner key \(auth0.ownerKey)")
        session = .working(.activating(active))
        output.append(.perform(.activateOwnerKey(active)))
    }

    // MARK: Store work

    mutating func taskCompleted(_ result: OwnerPairingTaskResult, now: Instant) {
        switch (session, result) {
        case (.working(.loadingMaterial), .materialLoaded(let material)):
            guard devicePresent, windowUntil != nil else {
                session = .none
                return
            }
            guard let material else {
                log(.warning, "pairing: no SPAKE2+ verifier: nothing sent to the device, PP-03 (reason 3)")
                session = .over
                output.append(.verifierMissing)
                return
            }
            send(.select, awaiting: .select(.phase2(material)), now: now)
        case (.working(.storingPendingKey(let key)), .pendingOwnerKeyStored(let success)):
            session = devicePresent ? .over : .none
            guard success else {
                log(.warning, "pairing phase 2: storing the owner key failed: no key (not counted: the store failed)")
                return
            }
            ownerKey = .key(key)
            output.append(.verifierConsumed)
            log(.info, "pairing phase 2 done: owner key \(key) pending, verifier deleted, failed attempts reset")
            if windowUntil == nil { closeWindowAfterCommit(key) }
        case (.working(.signing(let auth0, let deviceKey)), .signed(let signature)):
            guard let signature else {
                log(.warning, "pairing phase 3 failed: the vehicle identity key could not sign")
                session = .over
                return
            }
            guard devicePresent else {
                log(.warning, "pairing phase 3 failed: the device left")
                session = .none
                return
            }
            send(.auth1(vehicleSignature: signature), awaiting: .deviceSignature(auth0, deviceEphemeralKey: deviceKey), now: now)
        case (.working(.activating(let key)), .ownerKeyActivated(let success)):
            session = devicePresent ? .over : .none
            guard success else {
                log(.warning, "pairing phase 3: activating the owner key failed: it stays pending")
                return
            }
            ownerKey = .key(key)
            windowUntil = nil
            log(.info, "pairing phase 3 done: owner key \(key) active, pairing window closed")
            report(status: .ok, pushTransactionID: nil)
        case (_, .pendingOwnerKeyDeleted(let success)):
            if !success {
                log(.warning, "deleting the pending owner key failed: tried again at the next start")
            }
        default:
            log(.warning, "ignored store result \(result): no step waits for it")
        }
    }

    /// The window closed while the pending key was being stored: it goes at once.
    private mutating func closeWindowAfterCommit(_ key: OwnerKey) {
        log(.info, "owner key \(key) stored after its window closed: deleted")
        ownerKey = .absent
        output.append(.perform(.deletePendingOwnerKey))
    }
}
