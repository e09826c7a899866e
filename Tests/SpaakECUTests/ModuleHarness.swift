import E2E
import Foundation
import Logging
import SecureStore
import SpaakCore
@testable import SpaakECU

/// A module under a virtual clock, with helpers to feed frames and advance time.
final class ModuleHarness {
    let clock = VirtualClock(start: .milliseconds(1_000))
    var module: SpaakModule
    var sent: [(Instant, CANFrame)] = []

    let store: any SecureStore
    let configuration: ECUConfiguration
    /// Every line the module logged at info level or above, restarts included.
    let log = LogRecorder()
    static let wallTime = Date(timeIntervalSince1970: 1_800_000_000)

    init(configuration: ECUConfiguration = ECUConfiguration(serial: "SPK0000000001"),
         store: any SecureStore = InMemorySecureStore()) {
        self.store = store
        self.configuration = configuration
        module = ModuleHarness.start(configuration, store, clock.now, log: log)
        record(module.handleTimeout(now: clock.now))
    }

    static func start(_ configuration: ECUConfiguration, _ store: any SecureStore, _ now: Instant,
                      log: LogRecorder = LogRecorder()) -> SpaakModule {
        let counter = SeedCounter()
        return SpaakModule(configuration: configuration, store: store, now: now, wallClock: { wallTime },
                           logger: Logger(label: "test") { _ in RecordingLogHandler(recorder: log) },
                           seedSource: { counter.next() })
    }

    /// Restarts the module from its store, as after ECUReset or a power cycle.
    func restart() {
        module = ModuleHarness.start(configuration, store, clock.now, log: log)
        record(module.handleTimeout(now: clock.now))
    }

    func record(_ frames: [CANFrame]) { sent += frames.map { (clock.now, $0) } }

    /// Feeds a frame now.
    func receive(_ frame: CANFrame) { record(module.handle(frame, now: clock.now)) }

    /// Advances time in steps, firing every deadline on the way.
    func advance(by d: Duration) {
        let end = clock.now + d
        while let deadline = module.nextDeadline, deadline <= end {
            clock.advance(to: deadline)
            record(module.handleTimeout(now: clock.now))
        }
        clock.advance(to: end)
    }

    /// Frames sent on `id` since index `from`.
    func frames(on id: UInt32, from: Int = 0) -> [CANFrame] {
        sent[from...].map(\.1).filter { $0.id == id }
    }

    /// Sends a single-frame UDS request on 0x7A0 and returns the response frames on 0x7A8.
    func request(_ bytes: [UInt8], id: UInt32 = 0x7A0) -> [CANFrame] {
        let mark = sent.count
        var data = [UInt8(bytes.count)] + bytes
        while data.count < 8 { data.append(0xCC) }
        receive(CANFrame(id: id, data: data))
        return frames(on: 0x7A8, from: mark)
    }
}

/// Deterministic, distinct seeds for tests.
final class SeedCounter: @unchecked Sendable {
    private var value: UInt8 = 0
    func next() -> [UInt8] {
        value &+= 1
        return Array(repeating: value, count: 16)
    }
}

/// The lines a module logged, for tests of what it logs and how often.
final class LogRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []

    /// The messages, in order.
    var lines: [String] { lock.withLock { storage } }

    func append(_ line: String) { lock.withLock { storage.append(line) } }

    /// How many lines are exactly `text`.
    func count(_ text: String) -> Int { lines.filter { $0 == text }.count }
}

/// A swift-log handler that keeps the messages (info and above) in a `LogRecorder`.
struct RecordingLogHandler: LogHandler {
    let recorder: LogRecorder
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        recorder.append(event.message.description)
    }
}
