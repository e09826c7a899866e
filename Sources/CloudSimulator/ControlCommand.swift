/// A fault the simulator injects into the next C2V message(s) it sends.
public enum CloudFault: Equatable, Sendable, CustomStringConvertible {
    /// The message is not sent (no counter is used up).
    case drop
    /// The message is sent this many milliseconds late.
    case delay(milliseconds: Int)
    /// One byte of the signature value is flipped after signing.
    case corruptSignature
    /// The previous C2V message sent to that ECU is sent again instead (old counter).
    case replay
    /// A fresh random transaction id replaces the right one (the message is signed properly).
    case wrongTransaction
    /// Another C2V message type replaces the right one, payload included (signed properly).
    case wrongType
    /// An ErrorResponse (0x7F) with this result code replaces the message.
    case error(code: UInt8)

    /// The control-command spelling, e.g. `delay 500`.
    public var description: String {
        switch self {
        case .drop: return "drop"
        case .delay(let ms): return "delay \(ms)"
        case .corruptSignature: return "corrupt-signature"
        case .replay: return "replay"
        case .wrongTransaction: return "wrong-transaction"
        case .wrongType: return "wrong-type"
        case .error(let code): return "error \(code)"
        }
    }
}

/// A command on the control socket of `spaak-cloud serve` (one line, words separated by
/// spaces). The text forms:
///
///     tbm online|offline|unsubscribe|silent
///     push-verifier SERIAL                 PP-02: push a fresh verifier (0x0A)
///     terminate-owner-key SERIAL           KTS: OwnerKeyTermination (0x0C, signed by [ZZ2])
///     pairing-mode SERIAL                  OP-01: OwnerPairingModeRequest (0x0E, signed by the VOS)
///     fault drop|delay MS|corrupt-signature|replay|wrong-transaction|wrong-type|error CODE [--count N]
///     fault clear
///     password SERIAL                      hands out the pairing password once
///     register-ecu FILE...                 ECU identity certificates (DER or PEM)
///     reset-counter SERIAL                 forget the last accepted V2C counter of an ECU
///     register-owner VIN USER [EMAIL]      bind a VIN to its owner (owner services, OP-01a/b);
///                                          EMAIL defaults to USER@owners.spaak-sim.test
///     status                               the database summary, with each ECU's owner and owner pairing
///     stats                                `spaak-cloud vos` only: one line of JSON with the service's counters
public enum ControlCommand: Equatable, Sendable {
    /// Change the TBM link state.
    case tbm(TBMLinkState)
    /// PP-02 push.
    case pushVerifier(serial: String)
    /// KTS owner key termination.
    case terminateOwnerKey(serial: String)
    /// OP-01: ask the vehicle to open its pairing window.
    case pairingMode(serial: String)
    /// Arm a fault for the next `count` C2V messages.
    case fault(CloudFault, count: Int)
    /// Disarm the fault.
    case clearFault
    /// Hand out the pairing password (once).
    case password(serial: String)
    /// Register ECU identity certificates from files (read by the shell).
    case registerECU(paths: [String])
    /// Forget the last accepted V2C counter of an ECU.
    case resetCounter(serial: String)
    /// Bind a VIN to its owner (the owner services' users); `email` `nil`: the default address.
    case registerOwner(vin: String, user: String, email: String?)
    /// Print the database summary.
    case status
    /// The VOS service's counters as one line of JSON (`spaak-cloud vos`; see `VOSService`).
    case stats

    /// The command as text (the form `parse` reads).
    public var text: String {
        switch self {
        case .tbm(let state): return "tbm " + (state == .unsubscribed ? "unsubscribe" : state.rawValue)
        case .pushVerifier(let serial): return "push-verifier \(serial)"
        case .terminateOwnerKey(let serial): return "terminate-owner-key \(serial)"
        case .pairingMode(let serial): return "pairing-mode \(serial)"
        case .fault(let fault, let count): return "fault \(fault)" + (count == 1 ? "" : " --count \(count)")
        case .clearFault: return "fault clear"
        case .password(let serial): return "password \(serial)"
        case .registerECU(let paths): return (["register-ecu"] + paths).joined(separator: " ")
        case .resetCounter(let serial): return "reset-counter \(serial)"
        case .registerOwner(let vin, let user, let email): return (["register-owner", vin, user] + (email.map { [$0] } ?? [])).joined(separator: " ")
        case .status: return "status"
        case .stats: return "stats"
        }
    }

    /// The usage text sent back for a malformed command.
    public static let usage = """
        commands: tbm online|offline|unsubscribe|silent · push-verifier SERIAL · terminate-owner-key SERIAL · \
        pairing-mode SERIAL · \
        fault drop|delay MS|corrupt-signature|replay|wrong-transaction|wrong-type|error CODE [--count N] · \
        fault clear · password SERIAL · register-ecu FILE... · reset-counter SERIAL · register-owner VIN USER [EMAIL] · status · stats
        """

    /// Parses one command line; throws `ControlCommandError` with a sentence for the operator.
    public static func parse(_ line: String) throws(ControlCommandError) -> ControlCommand {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }).map(String.init)
        guard let verb = words.first else { throw .init("empty command") }
        let args = Array(words.dropFirst())
        switch verb {
        case "tbm":
            let states: [String: TBMLinkState] = ["online": .online, "offline": .offline, "unsubscribe": .unsubscribed,
                                                  "unsubscribed": .unsubscribed, "silent": .silent]
            guard args.count == 1, let state = states[args[0]] else {
                throw .init("usage: tbm online|offline|unsubscribe|silent")
            }
            return .tbm(state)
        case "push-verifier": return .pushVerifier(serial: try serial(args, verb))
        case "terminate-owner-key": return .terminateOwnerKey(serial: try serial(args, verb))
        case "pairing-mode": return .pairingMode(serial: try serial(args, verb))
        case "password": return .password(serial: try serial(args, verb))
        case "reset-counter": return .resetCounter(serial: try serial(args, verb))
        case "status":
            guard args.isEmpty else { throw .init("usage: status") }
            return .status
        case "stats":
            guard args.isEmpty else { throw .init("usage: stats") }
            return .stats
        case "register-ecu":
            guard !args.isEmpty else { throw .init("usage: register-ecu FILE...") }
            return .registerECU(paths: args)
        case "fault": return try fault(args)
        case "register-owner":
            guard args.count == 2 || args.count == 3, args.allSatisfy({ $0.utf8.count <= 254 }) else {
                throw .init("usage: register-owner VIN USER [EMAIL]")
            }
            return .registerOwner(vin: args[0], user: args[1], email: args.count == 3 ? args[2] : nil)
        default: throw .init("unknown command '\(verb)'; \(usage)")
        }
    }

    private static func serial(_ args: [String], _ verb: String) throws(ControlCommandError) -> String {
        guard args.count == 1, !args[0].isEmpty, args[0].utf8.count <= 32 else { throw .init("usage: \(verb) SERIAL") }
        return args[0]
    }

    private static func fault(_ words: [String]) throws(ControlCommandError) -> ControlCommand {
        let faultUsage = "usage: fault drop|delay MS|corrupt-signature|replay|wrong-transaction|wrong-type|error CODE [--count N] | fault clear"
        var args = words
        var count = 1
        if let index = args.firstIndex(of: "--count") {
            guard index + 1 < args.count, let n = Int(args[index + 1]), n >= 1, n <= 1000 else {
                throw .init("--count needs a number 1…1000")
            }
            count = n
            args.removeSubrange(index...(index + 1))
        }
        guard let kind = args.first else { throw .init(faultUsage) }
        let rest = Array(args.dropFirst())
        let fault: CloudFault
        switch (kind, rest.count) {
        case ("clear", 0): return .clearFault
        case ("drop", 0): fault = .drop
        case ("corrupt-signature", 0): fault = .corruptSignature
        case ("replay", 0): fault = .replay
        case ("wrong-transaction", 0): fault = .wrongTransaction
        case ("wrong-type", 0): fault = .wrongType
        case ("delay", 1):
            guard let ms = Int(rest[0]), ms >= 0, ms <= 600_000 else { throw .init("delay needs milliseconds 0…600000") }
            fault = .delay(milliseconds: ms)
        case ("error", 1):
            guard let code = UInt8(rest[0].hasPrefix("0x") ? String(rest[0].dropFirst(2)) : rest[0],
                                   radix: rest[0].hasPrefix("0x") ? 16 : 10) else {
                throw .init("error needs a result code 0…255 (or 0x00…0xFF)")
            }
            fault = .error(code: code)
        default: throw .init(faultUsage)
        }
        return .fault(fault, count: count)
    }
}

/// A control command that could not be parsed.
public struct ControlCommandError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The sentence for the operator.
    public var description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
