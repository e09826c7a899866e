import APDU
import CloudProtocol
import Crypto
import OwnerPairing
import SPAKE2Plus
import SpaakCore

/// `OwnerPairingMachine` driven like `Tests/OwnerPairingTests/PairingHarness.swift`, with the
/// device's answers taken from the input. The first byte chooses the start: the owner key
/// record (absent, pending, active, damaged), the store conditions, whether a verifier exists,
/// whether store work completes at once or when an operation says so, whether the store
/// fails, and whether an honest device (`PairingFuzzDevice`) is in the field; the second byte
/// seeds the randomness. Then each operation is a time step, a window request (HU_Request or
/// 0x0E), a tap, a removal, an owner key deletion, a verifier change, new conditions, the
/// completion of queued store work, or a response APDU: raw bytes, a TLV of one tag with
/// `90 00`, the honest device's answer, or that answer with one byte changed.
///
/// Invariants:
/// - an owner key becomes pending (or active) only through a session whose every answer was
///   the honest device's own: with answers from the input alone, `state` never reaches
///   pending or active (unless the store held such a key at the start);
/// - at most one failed attempt per session (tap), and it is the first action of its turn;
/// - after a failure (a counted attempt, an answer with a status word other than `90 00`, no
///   answer within the response timeout) nothing is sent until the next tap; nothing is sent
///   while the device is out of the field or the window is closed;
/// - every command sent is one of the profile, SELECT first, in the order of phase 2 or 3,
///   one at a time (never a second command before the first is answered);
/// - a report carries the state the machine is in after the turn;
/// - with store work completed at once and a store that never fails, the machine's owner key
///   is the one the store holds whenever no timeout is due.
enum PairingFuzz {
    static let vin = Array("VF3ABCDEF12345678".utf8)
    static let record = try! SpakeVerifierRecord(salt: Array(0..<16), n: 1024, r: 8, p: 1,
                                                 w0: PairingFuzzDevice.w0, l: PairingFuzzDevice.l)
    static let material = PairingMaterial(verifier: record, vin: vin, vehicleCertificate: [0x30, 0x03, 0x02, 0x01, 0x01],
                                          subCACertificate: [0x30, 0x03, 0x02, 0x01, 0x02])
    static let vehicleKey = try! P256.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: 0x33, count: 32))
    static let endpointKey = OwnerKey(publicKey: PairingFuzzDevice.endpointPublicKey, friendlyName: "fuzz phone")!
    /// Time steps, in milliseconds: around the 5 s response timeout and the 300 s window.
    static let steps: [Int64] = [1, 50, 500, 4_999, 5_000, 5_001, 60_000, 300_000]
    /// The phase 2 and phase 3 command orders (instruction bytes).
    static let phase2: [UInt8] = [0xA4, 0x30, 0x32, 0xD4, 0xCA]
    static let phase3: [UInt8] = [0xA4, 0x80, 0x81]

    static func run(_ bytes: [UInt8]) {
        _ = drive(bytes)
    }

    /// Runs one input; the harness as it ends (for the tests of the harness itself).
    static func drive(_ bytes: [UInt8]) -> Harness {
        var input = FuzzReader(bytes)
        let flags = input.byte()
        var harness = Harness(flags: flags, seed: UInt64(input.byte()))
        var count = 0
        while !input.isEmpty, count < 48 {
            count += 1
            harness.step(input.byte(), &input)
            harness.checkConsistency()
        }
        return harness
    }

    /// The machine, the store as the glue would keep it, the device, and what the invariants
    /// remember.
    struct Harness {
        let clock = VirtualClock(start: .milliseconds(100_000))
        var machine: OwnerPairingMachine
        var device: PairingFuzzDevice
        let honest: Bool
        let queued: Bool
        let storeFails: Bool
        var verifierPresent: Bool
        var stored: StoredOwnerKey
        var queue: [OwnerPairingTask] = []

        // What the invariants remember.
        var inField = false
        /// The command sent and not answered yet.
        var outstanding: [UInt8]?
        var outstandingSince: Instant?
        /// Every answer of this session was the honest device's own.
        var sessionHonest = true
        var attemptsThisSession = 0
        var failedThisSession = false
        /// Instructions sent in this session, in order.
        var sentThisSession: [UInt8] = []
        /// Whether a pending or active key may exist (the store had one, or an honest session made one).
        var keyMayExist: Bool
        var activeMayExist: Bool
        /// Failed attempts counted, all sessions.
        var attemptsFailed = 0
        /// Instructions sent, all sessions.
        var instructionsSent: [UInt8] = []

        /// Byte 7 of SPAAK_Status as the machine would send it.
        var stateByte: UInt8 { machine.state.rawValue }

        init(flags: UInt8, seed: UInt64) {
            let key: StoredOwnerKey
            switch flags & 0x03 {
            case 0: key = .absent
            case 1: key = .key(PairingFuzz.endpointKey)
            case 2: key = .key(OwnerKey(publicKey: PairingFuzz.endpointKey.publicKey, friendlyName: "fuzz phone", isActive: true)!)
            default: key = .damaged
            }
            let conditions = OwnerPairingConditions(plantLocked: flags & 0x04 == 0, vehicleCertificateInstalled: flags & 0x08 == 0)
            machine = OwnerPairingMachine(facts: OwnerPairingFacts(ownerKey: key, conditions: conditions), random: SplitMix64(seed: seed))
            device = PairingFuzzDevice(seed: seed ^ 0x5A5A)
            verifierPresent = flags & 0x10 == 0
            queued = flags & 0x20 != 0
            storeFails = flags & 0x40 != 0
            honest = flags & 0x80 != 0
            stored = key
            keyMayExist = flags & 0x03 == 1 || flags & 0x03 == 2
            activeMayExist = flags & 0x03 == 2
        }

        mutating func step(_ op: UInt8, _ input: inout FuzzReader) {
            switch op {
            case 0x00...0x07:
                advance(.milliseconds(PairingFuzz.steps[Int(op)]))
            case 0x08...0x0F:
                advance(.milliseconds(Int64(input.uint16())))
            case 0x10, 0x11:
                feed(.windowRequested(.headUnit))
            case 0x12, 0x13:
                feed(.windowRequested(.cloud(transactionID: input.bytes(16))))
            case 0x14:
                tap()
            case 0x15:
                if inField { remove() }
            case 0x16:
                stored = .absent
                feed(.ownerKeyDeleted(reason: "owner key termination"))
            case 0x17:
                verifierPresent.toggle()
                feed(.verifierChanged)
            case 0x18:
                let bits = input.byte()
                feed(.conditionsChanged(OwnerPairingConditions(plantLocked: bits & 1 == 0, vehicleCertificateInstalled: bits & 2 == 0)))
            case 0x19:
                let fail = input.byte() & 0x01 != 0
                if !queue.isEmpty { feed(.taskCompleted(result(of: queue.removeFirst(), fails: fail || storeFails))) }
            case 0x1A...0x1F:
                respondHonestly(change: nil)
            case 0x20...0x3F:
                respondHonestly(change: (Int(input.byte()), input.byte() | 0x01))
            case 0x40...0x7F:
                let length = op == 0x7F ? Int(input.uint16() & 0x01FF) : Int(op & 0x3F)
                respond(input.bytes(length))
            default:
                let tag = input.byte()
                let value = input.bytes(Int(op & 0x7F))
                respond(BERTLV([(tag, value)]).bytes + [0x90, 0x00])
            }
        }

        /// A tap; a device still in the field leaves first (NFC_Status starts no session inside one).
        mutating func tap() {
            if inField { remove() }
            inField = true
            outstanding = nil
            sessionHonest = true
            attemptsThisSession = 0
            failedThisSession = false
            sentThisSession = []
            device.leaveField()
            feed(.sessionStarted)
        }

        mutating func remove() {
            inField = false
            outstanding = nil
            device.leaveField()
            feed(.sessionEnded(reason: "device removed"))
        }

        /// The honest device's answer to the outstanding command, optionally with one byte changed.
        mutating func respondHonestly(change: (position: Int, mask: UInt8)?) {
            guard honest, let command = outstanding else { return }
            var answer = device.respond(to: command)
            if let change, !answer.isEmpty { answer[change.position % answer.count] ^= change.mask }
            give(answer, honestAnswer: change == nil ? answer : nil)
        }

        /// Bytes from the input as the answer (an honest device in the field still sees the command).
        mutating func respond(_ bytes: [UInt8]) {
            var honestAnswer: [UInt8]?
            if honest, let command = outstanding { honestAnswer = device.respond(to: command) }
            give(bytes, honestAnswer: honestAnswer)
        }

        mutating func give(_ bytes: [UInt8], honestAnswer: [UInt8]?) {
            if outstanding != nil {
                if bytes != honestAnswer { sessionHonest = false }
                if bytes.count < 2 || bytes.suffix(2) != [0x90, 0x00] { failedThisSession = true }
            }
            outstanding = nil
            feed(.response(bytes))
        }

        mutating func advance(_ duration: Duration) {
            let end = clock.now + duration
            while let deadline = machine.nextDeadline, deadline <= end {
                clock.advance(to: max(deadline, clock.now))
                timePassed()
                run(machine.handleTimeout(now: clock.now))
            }
            clock.advance(to: end)
            timePassed()
            run(machine.handleTimeout(now: clock.now))
        }

        /// A command unanswered for the response timeout has failed its session.
        mutating func timePassed() {
            if outstanding != nil, let since = outstandingSince, clock.now - since >= machine.configuration.responseTimeout {
                failedThisSession = true
                outstanding = nil
            }
        }

        mutating func feed(_ input: OwnerPairingInput) {
            run(machine.handle(input, now: clock.now))
        }

        mutating func run(_ actions: [OwnerPairingAction]) {
            // The turn as the machine left it (before store work done at once changes it).
            for (index, action) in actions.enumerated() {
                switch action {
                case .attemptFailed:
                    precondition(index == 0, "a failed attempt is not the first action of its turn: \(actions)")
                    attemptsThisSession += 1
                    attemptsFailed += 1
                    precondition(attemptsThisSession <= 1, "two failed attempts in one session")
                    failedThisSession = true
                case .report(let report):
                    precondition(report.state == machine.state, "report state \(report.state), the machine is in \(machine.state)")
                case .verifierConsumed:
                    precondition(keyMayExist && !storeFails, "verifier consumed without an honest phase 2")
                case .verifierMissing:
                    precondition(!verifierPresent, "verifier reported missing although present")
                case .sendAPDU, .perform, .log:
                    break
                }
            }
            for action in actions {
                switch action {
                case .sendAPDU(let bytes): sent(bytes)
                case .perform(let task): performed(task)
                case .attemptFailed, .report, .verifierConsumed, .verifierMissing, .log: break
                }
            }
            if case .key(let key) = machine.ownerKey {
                precondition(keyMayExist, "owner key \(key) without an honest session")
                precondition(!key.isActive || activeMayExist, "owner key \(key) active without an honest phase 3")
            }
        }

        mutating func sent(_ bytes: [UInt8]) {
            precondition(inField, "a command sent while the device is out of the field")
            precondition(machine.isWindowOpen, "a command sent outside the pairing window")
            precondition(!failedThisSession, "a command sent after the session failed")
            precondition(outstanding == nil, "a second command before the first was answered")
            guard let command = try? PairingCommand(apdu: CommandAPDU(bytes: bytes)) else {
                preconditionFailure("the module sent a command outside the profile: \(bytes)")
            }
            sentThisSession.append(bytes[1])
            instructionsSent.append(bytes[1])
            let order = sentThisSession.count > 1 && sentThisSession[1] == 0x80 ? PairingFuzz.phase3 : PairingFuzz.phase2
            precondition(sentThisSession.count <= order.count && Array(order.prefix(sentThisSession.count)) == sentThisSession,
                         "commands out of the profile's order: \(sentThisSession), \(command.name)")
            outstanding = bytes
            outstandingSince = clock.now
        }

        mutating func performed(_ task: OwnerPairingTask) {
            switch task {
            case .storePendingOwnerKey:
                precondition(honest && sessionHonest, "an owner key stored after a session with other answers than the device's")
                precondition(sentThisSession == PairingFuzz.phase2, "an owner key stored before GET DATA was answered")
                keyMayExist = true
            case .activateOwnerKey:
                precondition(honest && sessionHonest, "an owner key activated after a session with other answers than the device's")
                precondition(sentThisSession == PairingFuzz.phase3, "an owner key activated before AUTH1 was answered")
                activeMayExist = true
            case .loadMaterial, .deletePendingOwnerKey, .signWithVehicleKey:
                break
            }
            if queued {
                queue.append(task)
            } else {
                feed(.taskCompleted(result(of: task, fails: storeFails)))
            }
        }

        /// The store's answer, as the glue's store jobs give it.
        mutating func result(of task: OwnerPairingTask, fails: Bool) -> OwnerPairingTaskResult {
            switch task {
            case .loadMaterial:
                return .materialLoaded(verifierPresent ? PairingFuzz.material : nil)
            case .storePendingOwnerKey(let key):
                if !fails { stored = .key(key); verifierPresent = false }
                return .pendingOwnerKeyStored(success: !fails)
            case .activateOwnerKey(let key):
                guard !fails, case .key(let pending) = stored, !pending.isActive, pending.publicKey == key.publicKey else {
                    return .ownerKeyActivated(success: false)
                }
                stored = .key(key)
                return .ownerKeyActivated(success: true)
            case .deletePendingOwnerKey:
                if fails { return .pendingOwnerKeyDeleted(success: false) }
                if case .key(let key) = stored, !key.isActive { stored = .absent }
                return .pendingOwnerKeyDeleted(success: true)
            case .signWithVehicleKey(let message):
                if fails { return .signed(nil) }
                return .signed(Array(try! PairingFuzz.vehicleKey.signature(for: message).derRepresentation))
            }
        }

        /// With store work done at once and a store that never fails, the machine's key is the
        /// store's whenever nothing is due.
        func checkConsistency() {
            guard !queued, !storeFails else { return }
            if let deadline = machine.nextDeadline, deadline <= clock.now { return }
            precondition(machine.ownerKey == stored, "the machine holds \(machine.ownerKey), the store \(stored)")
        }
    }
}
