import ArgumentParser
import E2E
import Foundation
import PhoneSimulator
import SocketCAN
import SpaakCore

/// `spaak-phone hu-start`.
struct HUStart: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hu-start",
        abstract: "Send HU_Request 0x01 (start owner pairing, OP-02) once, as the head unit does.",
        discussion: """
            The frame carries the E2E layout of ICD 3 with data id 0x03C0. The module discards a \
            request that repeats the previous counter, so each call takes the next counter (0…14) \
            after the one kept in --counter-file (default: $TMPDIR or /tmp, \
            spaak-phone-hu-counter.<interface>), or without that file a counter from the clock \
            (tenths of a second modulo 15); --counter sets it explicitly. The same line with \
            cansend, counter 0: `cansend vcan0 3C0#\(HURequest.startOwnerPairing.frame(counter: 0).data.hexString)`.
            """)

    @Option(help: "SocketCAN interface.") var interface = "vcan0"
    @Option(help: "Alive counter to send (0…14) instead of the next one from --counter-file.") var counter: UInt8?
    @Option(help: "File that keeps the last counter sent.") var counterFile: String?
    @Option(help: "HU_Request id (hex, default 3C0).", transform: hexIdentifier) var huRequestId: UInt32 = 0x3C0

    func validate() throws {
        if let counter, counter > 14 { throw ValidationError("--counter must be 0…14") }
    }

    func run() throws {
        let path = counterFile ?? defaultCounterFile
        let value = counter ?? HUCounter.next(after: HUCounter.read(path), date: Date())
        let frame = HURequest.startOwnerPairing.frame(canID: huRequestId, counter: value)
        do {
            let socket = try CANSocket(interface: interface, filter: [])
            defer { socket.close() }
            var tries = 0
            while try !socket.send(frame) {
                tries += 1
                guard tries < 200 else { throw PhoneSetupError("\(interface) took no frame for 200 ms") }
                usleep(1000)
            }
        } catch {
            complain("\(error)")
            throw PhoneExit.setup
        }
        do {
            try HUCounter.write(value, to: path)
        } catch {
            complain("sent, but cannot keep the counter in \(path): \(error) (the next call may repeat it: use --counter)")
        }
        print("spaak-phone: HU_Request start owner pairing sent on \(interface): "
              + "\(CANFrame.hexText(huRequestId))#\(frame.data.hexString) (counter \(value))")
    }

    private var defaultCounterFile: String {
        let directory = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        return URL(fileURLWithPath: directory).appendingPathComponent("spaak-phone-hu-counter.\(interface)").path
    }
}

/// Reading and writing the counter file.
extension HUCounter {
    /// The last counter in `path`, `nil` when the file is missing or unreadable.
    static func read(_ path: String) -> UInt8? {
        FileManager.default.contents(atPath: path).flatMap { parse(String(decoding: $0, as: UTF8.self)) }
    }

    static func write(_ value: UInt8, to path: String) throws {
        try Data(text(value).utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
