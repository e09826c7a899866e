import CSocketCAN
import EventLoop
import Foundation
import ISOTP
import SecureStore
import SocketCAN
import SpaakCore
import SpaakECU
import SpaakFuzz
import TestPKI

/// `spaak-soak bench-isotp`: the hot path of `spaak-ecu` per frame, without a socket, for a
/// profiler (`valgrind --tool=callgrind`): 4095-byte ISO-TP requests received frame by frame
/// and long answers (a multi-DID certificate read) transmitted, by a module on a file store
/// as `spaak-ecu` opens it.
///
/// Each frame goes the way of the runner: the kernel's `struct canfd_frame` (as `recvmmsg`
/// fills it, batches of 64 with receive stamps) → `CANSocket.decodeStampedBatch` →
/// `ReceiveOrdering` → `SpaakModule.handle` (routing, ISO-TP, UDS) → the answer's frames to
/// their kernel form (`kernelFrame`, what `send(batch:)` writes) → the transmit confirmation.
/// The receive loop and the transmit loop are separate functions (`receiveMessages`,
/// `transmitMessages`) so that a profile gives the instructions of each per message.
enum ISOTPProfile {
    struct Options {
        var dir: URL
        var messages = 200
        var receive = true
        var transmit = true
    }

    static func run(_ options: Options) throws {
        try FileManager.default.createDirectory(at: options.dir, withIntermediateDirectories: true)
        let storePath = options.dir.appendingPathComponent("store").path
        let store = try FileSecureStore(directory: storePath,
                                        monotonicCounter: FileMonotonicCounter(path: FileMonotonicCounter.defaultPath(forStore: storePath)),
                                        logger: ModuleBench.silentLogger)
        let bench = ModuleBench(store: store)
        let shell = RunnerPath(bench: bench)
        if options.receive {
            let started = DispatchTime.now().uptimeNanoseconds
            let answers = shell.receiveMessages(options.messages)
            report("receive 4095 B", messages: options.messages, answers: answers, since: started)
        }
        if options.transmit {
            let pki = try TestPKIHierarchy.generate(now: ModuleBench.wallTime)
            bench.unlock()
            for step in ModuleBench.plantSteps(pki: pki).prefix(7) {  // the roots, the VIN, the key pair and CSR
                let answer = bench.run(step, pki: pki)
                guard answer.first.map({ $0 & 0x40 != 0 && $0 != 0x7F }) == true else {
                    throw ProfileError("plant step \(step) answered \(answer.prefix(4).hexString)")
                }
            }
            let request = try shell.multiDIDRequest()
            let started = DispatchTime.now().uptimeNanoseconds
            let (answers, size) = shell.transmitMessages(options.messages, request: request)
            report("transmit \(size) B", messages: options.messages, answers: answers, since: started)
        }
    }

    private static func report(_ what: String, messages: Int, answers: Int, since started: UInt64) {
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        SoakOutput.line(String(format: "%@: %d messages, %d answered, %.1f µs per message", what, messages, answers,
                               elapsed * 1e6 / Double(max(1, messages))))
    }
}

struct ProfileError: Error, CustomStringConvertible {
    let description: String
    init(_ text: String) { description = text }
}

/// The runner's per-frame work around one module, on the module bench's virtual clock.
final class RunnerPath {
    let bench: ModuleBench
    var ordering = ReceiveOrdering()
    /// The kernel frames "written" (what `send(batch:)` would hand to `sendmmsg`).
    var written: [canfd_frame] = []
    var writtenSizes: [Int32] = []
    /// The answers' frames, for the checks (only the last message's).
    var lastAnswer: [CANFrame] = []

    init(bench: ModuleBench) {
        self.bench = bench
        written.reserveCapacity(1024)
        writtenSizes.reserveCapacity(1024)
    }

    var module: SpaakModule { bench.module }
    var ids: CANIdentifiers { bench.configuration.ids }

    /// A tester's ISO-TP channel (0x7A0 → 0x7A8).
    func tester() -> ISOTPChannel {
        ISOTPChannel(configuration: ISOTPConfiguration(txID: ids.udsRequest, rxID: ids.udsResponse))
    }

    /// The frames a tester sends for `request` once the module's FC.CTS (BS 0) arrived: FF (or
    /// SF) then every CF, in their kernel form.
    func kernelFrames(of request: [UInt8]) -> [(canfd_frame, Int32)] {
        var channel = tester()
        let now = bench.clock.now
        var frames = channel.send(request, now: now).compactMap { if case .transmit(let f) = $0 { f } else { nil } }
        if frames.count == 1, request.count > 7 {
            let fc = CANFrame(id: ids.udsResponse, data: [0x30, 0x00, 0x00, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC])
            frames += channel.handle(fc, now: now).compactMap { if case .transmit(let f) = $0 { f } else { nil } }
        }
        return frames.map { frame in
            let (kernel, size) = frame.kernelFrame!
            return (kernel, Int32(size))
        }
    }

    /// Hands `frames` to the module as `recvmmsg` batches of up to 64 stamped frames.
    func deliver(_ frames: ArraySlice<(canfd_frame, Int32)>) {
        var index = frames.startIndex
        let kernel = UnsafeMutablePointer<canfd_frame>.allocate(capacity: 64)
        let sizes = UnsafeMutablePointer<Int32>.allocate(capacity: 64)
        let stamps = UnsafeMutablePointer<UInt64>.allocate(capacity: 64)
        defer { kernel.deallocate(); sizes.deallocate(); stamps.deallocate() }
        while index < frames.endIndex {
            let count = min(64, frames.endIndex - index)
            // 20 µs between frames, 50 µs until the read (plain nanoseconds: the driver's own
            // `Instant + Duration` would show in the profile).
            var stamp = bench.clock.now.nanoseconds
            for n in 0..<count {
                stamp += 20_000
                kernel[n] = frames[index + n].0
                sizes[n] = frames[index + n].1
                stamps[n] = stamp
            }
            index += count
            bench.clock.advance(to: Instant(nanoseconds: stamp + 50_000))
            var ignored = 0
            let batch = CANSocket.decodeStampedBatch(frames: kernel, sizes: sizes, stamps: stamps, count: count,
                                                     ignored: &ignored)
            let module = self.module
            ordering.deliver(batch, receivedAt: { $0.receivedAt }, now: bench.clock.now,
                             nextDeadline: { module.nextDeadline },
                             input: { self.transmit(module.handle($0.frame, now: $1), now: $1) },
                             timeout: { self.transmit(module.handleTimeout(now: $0), now: $0) })
        }
    }

    /// What the runner does with the module's frames: their kernel form, then the
    /// confirmation once all went out.
    func transmit(_ frames: [CANFrame], now: Instant) {
        guard !frames.isEmpty else { return }
        for frame in frames {
            guard let (kernel, size) = frame.kernelFrame else { continue }
            if written.count == 1024 { written.removeAll(keepingCapacity: true); writtenSizes.removeAll(keepingCapacity: true) }
            written.append(kernel)
            writtenSizes.append(Int32(size))
            if frame.id == ids.udsResponse { lastAnswer.append(frame) }
        }
        module.framesTransmitted(now: now)
    }

    /// `count` 4095-byte requests (`3E 00` + 4093 bytes), each answered `7F 3E 13`.
    func receiveMessages(_ count: Int) -> Int {
        var generator = SplitMix64(seed: 11)
        let request = [0x3E, 0x00] + (0..<4093).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let frames = kernelFrames(of: request)
        var answered = 0
        for _ in 0..<count {
            lastAnswer.removeAll(keepingCapacity: true)
            deliver(frames[0..<1])          // FF: the module answers FC.CTS
            deliver(frames[1...])           // the CFs back to back
            if lastAnswer.last?.data.prefix(4) == [0x03, 0x7F, 0x3E, 0x13] { answered += 1 }
            bench.clock.advance(by: .milliseconds(1))
        }
        return answered
    }

    /// A multi-DID read of the certificates whose answer stays ≤ 4095 bytes (as the bench's).
    func multiDIDRequest() throws -> [UInt8] {
        let dids: [UInt16] = [0xD110, 0xD111, 0xD112, 0xD113, 0xD114, 0xD100]
        var sizes: [UInt16: Int] = [:]
        for did in dids {
            let answer = bench.uds([0x22, UInt8(did >> 8), UInt8(did & 0xFF)])
            guard answer.first == 0x62 else { throw ProfileError("DID \(did) answered \(answer.prefix(4).hexString)") }
            sizes[did] = answer.count - 3
        }
        // Repeated while they fit (as scripts/bench does); each once if the module refuses that.
        var chosen: [UInt16] = []
        var total = 1
        var added = true
        while added {
            added = false
            for did in dids.sorted(by: { sizes[$0]! > sizes[$1]! }) where total + 2 + sizes[did]! <= 4095 {
                chosen.append(did)
                total += 2 + sizes[did]!
                added = true
            }
        }
        let repeated: [UInt8] = [0x22] + chosen.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        if bench.uds(repeated).first == 0x62 { return repeated }
        return [0x22] + dids.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    /// `count` reads of `request`: the request's frames in, the FF out, the tester's FC.CTS
    /// (BS 0, STmin 0) in, every CF out. Returns the answered count and the answer's size.
    func transmitMessages(_ count: Int, request: [UInt8]) -> (Int, Int) {
        let frames = kernelFrames(of: request)
        let flowControl = CANFrame(id: ids.udsRequest, data: [0x30, 0x00, 0x00, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC]).kernelFrame!
        var answered = 0
        var size = 0
        for _ in 0..<count {
            deliver(frames[0..<1])          // SF, or FF (answered with FC.CTS)
            lastAnswer.removeAll(keepingCapacity: true)
            deliver(frames[1...])
            guard lastAnswer.count == 1, lastAnswer[0].data[0] >> 4 == 1 else { continue }
            deliver([(flowControl.frame, Int32(flowControl.size))][...])
            size = Int(lastAnswer[0].data[0] & 0x0F) << 8 | Int(lastAnswer[0].data[1])
            if lastAnswer.count == 1 + (size - 6 + 6) / 7 { answered += 1 }
            bench.clock.advance(by: .milliseconds(1))
        }
        return (answered, size)
    }
}
