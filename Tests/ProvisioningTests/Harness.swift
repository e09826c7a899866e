import CloudProtocol
import Crypto
import Provisioning
import SpaakCore
import Testing

/// A use case that ended, as reported by `.useCaseEnded`.
struct Ended: Equatable, CustomStringConvertible {
    var useCase: UseCase
    var result: CloudStatus
    init(_ useCase: UseCase, _ result: CloudStatus) {
        self.useCase = useCase
        self.result = result
    }
    var description: String { "\(useCase) \(result.rawValue)" }
}

/// The glue of the module around one `ProvisioningMachine`, under a virtual clock: it runs
/// tasks on a `FakeStore`, encodes every V2C request with CloudProtocol, and passes every
/// C2V message, signed by a test VOS or KTS key, through `C2VVerifier` with the machine's
/// expectation, as the ECU will.
final class Harness {
    static let serial = "SPK0000000001"

    enum Event {
        case input(ProvisioningInput)
        case c2v([UInt8])
    }

    var machine: ProvisioningMachine
    var store: FakeStore
    let clock = VirtualClock(start: .milliseconds(1_000))
    /// Run tasks at once on the store (else keep the task in `heldTask`).
    var autoTasks = true
    /// Answer every request like a well-behaved VOS.
    var autoCloud = false
    /// Events left before a simulated crash (`nil`: no crash).
    var budget: Int?
    var heldTask: ProvisioningTask?
    var sent: [V2CRequest] = []
    var sentAt: [Instant] = []
    var statuses: [ProvisioningStatus] = []
    var ended: [Ended] = []
    var logs: [String] = []
    var rejections: [CloudStatus] = []
    var subjectID = "VSID-0001"
    var queue: [Event] = []
    let vosKey = P256.Signing.PrivateKey()
    let ktsKey = P256.Signing.PrivateKey()
    let ecuKey = P256.Signing.PrivateKey()
    var cloudCounter: UInt32 = 100
    var lastAcceptedCounter: UInt32?
    var v2cCounter: UInt32 = 0
    var pushRandom = SplitMix64(seed: 99)

    init(store: FakeStore = FakeStore(), seed: UInt64 = 1, configuration: ProvisioningConfiguration = .init()) {
        self.store = store
        machine = ProvisioningMachine(facts: store.facts, configuration: configuration, random: SplitMix64(seed: seed))
    }

    // MARK: Inputs

    func online() { feed(.tbmWentOnline) }
    func offline() { feed(.tbmWentOffline) }
    func routine(_ routine: ProvisioningRoutine) { feed(.routine(routine)) }

    func feed(_ input: ProvisioningInput) {
        queue.append(.input(input))
        pump()
    }

    /// Completes the held task with the store's result (or `result`).
    func completeTask(_ result: ProvisioningTaskResult? = nil) {
        guard let task = heldTask else { Issue.record("no task held"); return }
        heldTask = nil
        feed(.taskCompleted(result ?? store.execute(task)))
    }

    /// The cloud answers the last request (or `request`) with `payload`.
    func answer(_ payload: CloudPayload, to request: V2CRequest? = nil, counter: UInt32? = nil) {
        guard let request = request ?? sent.last else { Issue.record("nothing sent"); return }
        queue.append(.c2v(c2v(payload, transactionID: request.transactionID, useCase: request.useCase, counter: counter)))
        pump()
    }

    /// The cloud pushes `payload` with a fresh transaction id; returns that id.
    @discardableResult
    func push(_ payload: CloudPayload, useCase: UseCase = .pp02) -> [UInt8] {
        let transactionID = (0..<16).map { _ in UInt8.random(in: 0...255, using: &pushRandom) }
        queue.append(.c2v(c2v(payload, transactionID: transactionID, useCase: useCase)))
        pump()
        return transactionID
    }

    /// A signed C2V message: 0x0C by the KTS ([ZZ2]), the rest by the VOS.
    func c2v(_ payload: CloudPayload, transactionID: [UInt8], useCase: UseCase, counter: UInt32? = nil) -> [UInt8] {
        let counter = counter ?? { cloudCounter += 1; return cloudCounter }()
        let kts = payload.type == .ownerKeyTermination
        return try! SpaakResponse.build(
            serial: Self.serial, vin: nil, transactionID: transactionID, counter: counter, useCase: useCase,
            payload: payload, signerCertificate: kts ? nil : [0x30, 0x00],
            signer: CloudSigning.signer(kts ? ktsKey : vosKey))
    }

    /// Lets time pass, handling every deadline on the way.
    func advance(by duration: Duration) {
        let target = clock.now + duration
        var guardCount = 0
        while let deadline = machine.nextDeadline, deadline <= target, guardCount < 1000 {
            guardCount += 1
            clock.advance(to: deadline)
            run(machine.handleTimeout(now: clock.now))
            pump()
        }
        #expect(guardCount < 1000, "deadline loop")
        clock.advance(to: target)
    }

    // MARK: The glue

    func pump() {
        while !queue.isEmpty {
            if let left = budget {
                if left == 0 { queue.removeAll(); return }
                budget = left - 1
            }
            switch queue.removeFirst() {
            case .input(let input): run(machine.handle(input, now: clock.now))
            case .c2v(let bytes): verify(bytes)
            }
        }
    }

    private func verify(_ bytes: [UInt8]) {
        let trust = ClosureSignerTrust(
            publicKey: { [vosKey] _ in .success(vosKey.publicKey) },
            validate: { _ in .success(()) },
            ownerKeyTerminationKey: { [ktsKey] in .success(ktsKey.publicKey) })
        let verdict = C2VVerifier.verify(bytes, expectation: machine.expectation, lastCounter: lastAcceptedCounter,
                                         serial: Self.serial, trust: trust)
        switch verdict {
        case .accepted(let message):
            lastAcceptedCounter = message.counter
            run(machine.handle(.messageAccepted(message), now: clock.now))
        case .rejected(_, let code, _):
            rejections.append(code)
            run(machine.handle(.messageRejected(code), now: clock.now))
        }
    }

    /// The actions for owner pairing, in order.
    var pairingEvents: [ProvisioningAction] = []

    private func run(_ actions: [ProvisioningAction]) {
        for action in actions {
            switch action {
            case .send(let request):
                #expect(machine.isTBMOnline, "sent while the TBM is offline")
                sent.append(request)
                sentAt.append(clock.now)
                v2cCounter += 1
                let bytes = try? SpaakRequest.build(
                    serial: Self.serial, vin: nil, transactionID: request.transactionID, counter: v2cCounter,
                    useCase: request.useCase, payload: request.payload, signer: CloudSigning.signer(ecuKey))
                #expect(bytes.flatMap { try? CloudMessage.decode($0) }?.payload == request.payload)
                if autoCloud, let payload = cloudAnswer(request) {
                    queue.append(.c2v(c2v(payload, transactionID: request.transactionID, useCase: request.useCase)))
                }
            case .perform(let task):
                if autoTasks { queue.append(.input(.taskCompleted(store.execute(task)))) } else { heldTask = task }
            case .persist(let operations):
                store.apply(operations)
            case .statusChanged(let status):
                statuses.append(status)
            case .useCaseEnded(let useCase, let result):
                ended.append(Ended(useCase, result))
            case .log(_, let text):
                logs.append(text)
            case .ownerPairingModeRequested, .ownerKeyDeleted, .verifierChanged:
                pairingEvents.append(action)
            }
        }
    }

    /// What a well-behaved VOS answers.
    func cloudAnswer(_ request: V2CRequest) -> CloudPayload? {
        switch request.payload {
        case .remoteServiceProvisioningRequest: return .remoteServiceProvisioningResponse(drmUUID: Array(repeating: 0xD5, count: 16))
        case .vehicleSubjectIdRequest: return .vehicleSubjectIdResponse(subjectID: subjectID)
        case .vehicleIdentityCSRRequest(let csr): return .vehicleIdentityCSRResponse(certificate: [0x30, 0x01, csr[1]])
        case .vehicleIdentityCertStatus, .spake2VerifierStatus: return .c2vUsecaseCompletionAck
        case .spake2VerifierRequest: return .spake2VerifierProvisioning(Records.valid)
        default: return nil
        }
    }

    // MARK: Views

    /// `use case/step` of every status change, e.g. `["3/1", "6/1"]`.
    var trail: [String] { statuses.map { "\($0.activeUseCase?.rawValue ?? 0)/\($0.step)" } }
    /// Types of the requests sent.
    var sentTypes: [UInt8] { sent.map { $0.type.rawValue } }
    /// `SPAAK_Status` bytes 3...6 now (the module's mapping of `ProvisioningStatus`).
    var statusBytes: [UInt8] {
        let status = machine.status
        return [status.activeUseCase?.rawValue ?? 0, status.step, status.lastErrorCode, status.failedPairingAttempts]
    }
}
