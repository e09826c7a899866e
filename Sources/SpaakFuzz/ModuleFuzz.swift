import ISOTP
import SecureStore
import SpaakCore
import SpaakECU

/// The whole module: the first byte chooses the state — empty in-memory store or a
/// provisioned (plant-locked) file store, extended session, security access unlocked;
/// then each operation is a UDS request over ISO-TP (physical, length-prefixed), a raw frame
/// on one of the module's identifiers (UDS physical/functional, C2V, TBM_Status) or a time step.
///
/// Invariants: the module keeps answering (the last operation is followed by a read of
/// DID 0xD120, which must answer positively or with an NRC), and every frame it sends is valid.
enum ModuleFuzz {
    static func run(_ bytes: [UInt8]) {
        var input = FuzzReader(bytes)
        let state = input.byte()
        let store: any SecureStore
        if state & 0x01 != 0, let opened = try? FuzzFixtures.open(FuzzFixtures.provisionedCopy()) {
            store = opened
        } else {
            store = InMemorySecureStore()
        }
        let bench = ModuleBench(store: store)
        if state & 0x04 != 0 { bench.unlock() } else if state & 0x02 != 0 { bench.uds([0x10, 0x03]) }
        let ids = bench.configuration.ids
        let targets = [ids.udsRequest, ids.udsFunctional, ids.c2v, ids.tbmStatus]
        var steps = 0
        while !input.isEmpty, steps < 64 {
            steps += 1
            let op = input.byte()
            switch op {
            case 0x00...0x1F:
                bench.advance(by: .milliseconds(Int64(op) * 50))
            case 0x20...0x7F:
                let length = Int(op & 0x3F) == 0x3F ? Int(input.uint16() & 0x0FFF) : Int(op & 0x3F)
                _ = bench.exchange(input.bytes(length), limit: .seconds(6))
            default:
                let frame = CANFrame(id: targets[Int(op & 0x03)], data: input.bytes(Int((op >> 2) & 0x07) + 1))
                _ = bench.receive(frame)
            }
        }
        let status = bench.uds([0x22, 0xD1, 0x20])
        precondition(status.first == 0x62 || status.first == 0x7F, "module does not answer DID 0xD120: \(status)")
        for frame in bench.sent { precondition(frame.isValid, "module sent an invalid frame \(frame)") }
    }
}
