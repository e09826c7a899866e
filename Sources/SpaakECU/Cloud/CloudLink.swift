import CloudProtocol
import ISOTP
import KeyM
import Logging
import Provisioning
import SecureStore
import SpaakCore

/// The module's end of the cloud channel (ICD 7): the ISO-TP channel to the TBM (V2C on
/// 0x6A0, C2V on 0x6A8), the verification of every C2V message (ICD 7.4, `C2VVerifier`)
/// with the C2V counter kept in the store, and the signing of every V2C message with the
/// ECU identity key and the next V2C counter, queued until the channel is free.
///
/// It decides nothing about the use cases: `verify` turns a C2V message into the
/// provisioning machine's input against the machine's `C2VExpectation`; `send` takes the
/// machine's `V2CRequest`s.
final class CloudLink {
    private var channel: ISOTPChannel
    private let storeView: StoreView
    private let serial: String
    private let logger: Logger
    private let outbox: FrameOutbox
    /// Signed V2C messages waiting for the channel.
    private var queue: [[UInt8]] = []
    /// C2V messages discarded by the checks of ICD 7.4.
    private(set) var c2vRejected = 0

    init(channel: ISOTPChannel, storeView: StoreView, serial: String, outbox: FrameOutbox, logger: Logger) {
        self.channel = channel
        self.storeView = storeView
        self.serial = serial
        self.outbox = outbox
        self.logger = logger
    }

    /// The channel's next timer (N_Bs, N_Cr, STmin).
    var nextDeadline: Instant? { channel.nextDeadline }
    /// The channel's counters, for the log.
    var counters: ISOTPCounters { channel.counters }

    /// A frame on the C2V id: the C2V messages it completes.
    func receive(_ frame: CANFrame, now: Instant) -> [[UInt8]] {
        process(channel.handle(frame, now: now), now: now)
    }

    /// The channel's timers: the C2V messages completed meanwhile (none, in practice).
    func handleTimeout(now: Instant) -> [[UInt8]] {
        process(channel.handleTimeout(now: now), now: now)
    }

    /// The frames returned last were written to the bus at `now`.
    func transmissionConfirmed(now: Instant) { channel.transmissionConfirmed(now: now) }

    /// Verifies a C2V message (ICD 7.4) against what the machine expects; an accepted
    /// message's counter is stored before the machine sees it.
    func verify(_ bytes: [UInt8], expectation: C2VExpectation) -> ProvisioningInput {
        let lastCounter: UInt32?
        switch StoreReadings(c2vCounterOf: storeView.store).lastC2VCounter {
        case .success(let counter): lastCounter = counter
        case .failure(let damage):
            c2vRejected += 1
            logger.error("C2V message refused: the C2V counter is \(damage); every C2V message is refused (replay cannot be excluded)")
            return .messageRejected(.storeFailure)
        }
        switch C2VVerifier.verify(bytes, expectation: expectation, lastCounter: lastCounter, serial: serial, trust: signerTrust) {
        case .accepted(let message):
            do {
                try storeView.store.writeCounter(.c2vCounter, UInt64(message.counter))
            } catch {
                logger.error("C2V \(message.type) discarded: cannot keep its counter (\(error))")
                return .messageRejected(.storeFailure)
            }
            logger.info("C2V \(message.type) \(message.useCase) counter \(message.counter) accepted")
            return .messageAccepted(message)
        case .rejected(let rule, let status, let reason):
            c2vRejected += 1
            logger.warning("C2V message discarded (\(rule), status \(status.rawValue)): \(reason)")
            return .messageRejected(status)
        }
    }

    /// Signs `request` with the ECU identity key and the next V2C counter (kept in the
    /// store) and queues it; `flush` hands it to the channel. A message that cannot be
    /// signed or counted is not sent (logged).
    func send(_ request: V2CRequest) {
        do {
            let counter = try storeView.store.incrementCounter(.v2cCounter)
            let vin = storeView.vin.map { String(decoding: $0, as: UTF8.self) }
            let store = storeView.store
            let bytes = try SpaakRequest.build(
                serial: serial, vin: vin, transactionID: request.transactionID,
                counter: UInt32(truncatingIfNeeded: counter), useCase: request.useCase, payload: request.payload,
                signer: { try store.sign(.ecuIdentity, message: $0) })
            logger.info("V2C \(request) counter \(counter)")
            queue.append(bytes)
        } catch {
            logger.error("V2C \(request.type) not sent: \(error)")
        }
    }

    /// Hands the queued V2C messages to the channel, one at a time, while it is free.
    func flush(now: Instant) {
        while !channel.isTransmitting, !queue.isEmpty {
            _ = process(channel.send(queue.removeFirst(), now: now), now: now)
        }
    }

    private func process(_ outputs: [ISOTPOutput], now: Instant) -> [[UInt8]] {
        var messages: [[UInt8]] = []
        for output in outputs {
            switch output {
            case .transmit(let frame): outbox.frames.append(frame)
            case .received(let message): messages.append(message)
            case .transmitCompleted: break
            case .failed(let error): logger.warning("ISO-TP cloud channel: \(error)")
            }
        }
        return messages
    }

    /// ICD 7.4 trust: signer certificates chain to the installed [Z1]; [ZZ2] for the KTS.
    private var signerTrust: ClosureSignerTrust {
        let installed = storeView.snapshot.installed
        let now = storeView.wallClock()
        return ClosureSignerTrust(
            publicKey: { der in
                do { return .success(try KeyMCertificate(der: der, name: "signer").publicKey) } catch {
                    return .failure(SignerTrustFailure(String(describing: error)))
                }
            },
            validate: { der in
                let result = KeyM.checkC2VSignerCertificate(der, installed: installed, now: now)
                return result.isValid ? .success(()) : .failure(SignerTrustFailure(result.description))
            },
            ownerKeyTerminationKey: {
                guard let der = installed[.zz2] else { return .failure(SignerTrustFailure("[ZZ2] is not installed")) }
                do { return .success(try KeyM.validate(der, slot: .zz2, installed: installed, now: now).publicKey) } catch {
                    return .failure(SignerTrustFailure(String(describing: error)))
                }
            })
    }
}

/// The frames the module's components produced during one event, in order.
final class FrameOutbox {
    var frames: [CANFrame] = []

    /// The frames, emptying the outbox.
    func take() -> [CANFrame] {
        defer { frames.removeAll(keepingCapacity: true) }
        return frames
    }
}

extension StoreReadings {
    /// Reads only `counter-c2v` (before every C2V message: it changes with each).
    init(c2vCounterOf store: any SecureStore) {
        self.init()
        c2vCounter = Self.counter(store, .c2vCounter)
    }
}
