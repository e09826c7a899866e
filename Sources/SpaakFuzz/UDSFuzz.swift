import SpaakCore
import UDS

/// UDS server: the first byte chooses the state the requests meet — session (default or
/// extended), security access unlocked or not, the persisted wrong-key count, physical or
/// functional addressing — and the server is brought there with real requests. Then each
/// operation is a request (length-prefixed), an application answer to a pending request, or
/// a time step.
///
/// Invariants: every response is non-empty and at most `maxResponseLength`; a negative
/// response is `7F SID NRC`; the wrong-key count stays within 0…max.
enum UDSFuzz {
    static let seed = [UInt8](repeating: 0x5A, count: 16)
    static let keyFunction: @Sendable ([UInt8]) -> [UInt8] = { seed in seed.map { $0 ^ 0xA5 } }

    static func run(_ bytes: [UInt8]) {
        var input = FuzzReader(bytes)
        let state = input.byte()
        var now = Instant.milliseconds(1_000)
        var server = DiagnosticServer(persistedSecurityAttempts: Int(state >> 4 & 0x03), now: now,
                                      seedSource: { UDSFuzz.seed }, keyFunction: keyFunction)
        var pending: RequestToken?
        func apply(_ actions: [DiagnosticAction]) {
            for action in actions {
                switch action {
                case .send(let response):
                    precondition(!response.isEmpty && response.count <= server.configuration.maxResponseLength,
                                 "UDS response of \(response.count) bytes")
                    if response[0] == DiagnosticMessageFormat.negativeResponseSID {
                        precondition(NegativeResponse(bytes: response) != nil, "UDS negative response \(response)")
                    }
                case .persistSecurityAttempts(let count):
                    precondition(count >= 0 && count <= max(1, server.configuration.securityMaxAttempts), "attempts \(count)")
                case .execute(let request):
                    pending = request.token
                default:
                    break
                }
            }
        }
        if state & 0x01 != 0 { apply(server.handleRequest([0x10, 0x03], addressing: .physical, now: now)) }
        if state & 0x02 != 0 {
            apply(server.handleRequest([0x27, 0x01], addressing: .physical, now: now))
            apply(server.handleRequest([0x27, 0x02] + keyFunction(seed), addressing: .physical, now: now))
        }
        let addressing: RequestAddressing = state & 0x04 != 0 ? .functional : .physical
        var steps = 0
        while !input.isEmpty, steps < 256 {
            steps += 1
            let op = input.byte()
            switch op {
            case 0x00...0x0F:
                now = now + .milliseconds(Int64(op) * 700 + Int64(input.byte()))
                apply(server.handleTimeout(now: now))
            case 0x10...0x1F:
                guard let token = pending else { continue }
                pending = nil
                let result: ApplicationResult
                switch op & 0x03 {
                case 0: result = .positive(input.bytes(Int(input.byte())))
                case 1: result = .dataRecords((0..<Int(input.byte() & 0x07)).map { _ in input.bytes(Int(input.byte())) })
                case 2: result = .negative(.responsePending)
                default: result = .negative(NegativeResponseCode(rawValue: input.byte()))
                }
                apply(server.complete(token, with: result, now: now))
                if result == .negative(.responsePending) { pending = token }
            default:
                let request = input.bytes(Int(op & 0x3F) == 0x3F ? Int(input.uint16() & 0x0FFF) : Int(op & 0x3F))
                apply(server.handleRequest(request, addressing: addressing, now: now))
            }
            precondition(server.securityAttempts >= 0, "negative attempt count")
        }
    }
}
