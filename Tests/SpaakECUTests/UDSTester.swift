import ISOTP
import SpaakCore
@testable import SpaakECU

/// A UDS client on its own ISO-TP channel (0x7A0 → 0x7A8), wired to the module of a
/// `ModuleHarness`: sends whole requests, returns whole responses.
extension ModuleHarness {
    /// Sends `request` and returns every response (NRC 0x78 included) until a final one,
    /// advancing virtual time through the module's deadlines (at most `limit`).
    func exchange(_ request: [UInt8], limit: Duration = .seconds(30)) -> [[UInt8]] {
        var tester = ISOTPChannel(configuration: ISOTPConfiguration(txID: 0x7A0, rxID: 0x7A8))
        var responses: [[UInt8]] = []
        var pending = tester.send(request, now: clock.now)
        let end = clock.now + limit
        while true {
            var fromModule: [CANFrame] = []
            for output in pending {
                if case .transmit(let frame) = output { fromModule += module.handle(frame, now: clock.now) }
            }
            pending = []
            record(fromModule)
            for frame in fromModule where frame.id == 0x7A8 {
                for output in tester.handle(frame, now: clock.now) {
                    switch output {
                    case .received(let response): responses.append(response)
                    default: pending.append(output)
                    }
                }
            }
            if let last = responses.last, !(last.count == 3 && last[0] == 0x7F && last[2] == 0x78) { return responses }
            if !pending.isEmpty { continue }
            let next = [module.nextDeadline, tester.nextDeadline].compactMap { $0 }.min()
            guard let deadline = next, deadline <= end else { return responses }
            clock.advance(to: deadline)
            let timed = module.handleTimeout(now: clock.now)
            record(timed)
            pending = tester.handleTimeout(now: clock.now)
            for frame in timed where frame.id == 0x7A8 {
                for output in tester.handle(frame, now: clock.now) {
                    if case .received(let response) = output { responses.append(response) } else { pending.append(output) }
                }
            }
            if let last = responses.last, !(last.count == 3 && last[0] == 0x7F && last[2] == 0x78) { return responses }
        }
    }

    /// The final response to `request`.
    func uds(_ request: [UInt8]) -> [UInt8] { exchange(request).last ?? [] }

    /// Extended session and security access with the plant key.
    func unlock() {
        _ = uds([0x10, 0x03])
        let seedResponse = uds([0x27, 0x01])
        let key = SecurityAccessKey.compute(seed: Array(seedResponse.dropFirst(2)), plantKey: ECUConfiguration.defaultPlantKey)
        _ = uds([0x27, 0x02] + key)
    }
}
