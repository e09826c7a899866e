import CanSM
import SpaakCore

/// Error frames and statuses the CanSM tests feed in.
enum Frames {
    static let flag: UInt32 = 0x2000_0000
    static let busOff = CANErrorFrame(id: flag | 0x040, data: [0, 0, 0, 0, 0, 0, 0, 0])!
    static let restarted = CANErrorFrame(id: flag | 0x100, data: [0, 0, 0, 0, 0, 0, 0, 0])!
    static func warning(tec: UInt8 = 96) -> CANErrorFrame { CANErrorFrame(id: flag | 0x204, data: [0, 0x08, 0, 0, 0, 0, tec, 0])! }
    static func passive(tec: UInt8 = 128) -> CANErrorFrame { CANErrorFrame(id: flag | 0x204, data: [0, 0x20, 0, 0, 0, 0, tec, 0])! }
    static func active(tec: UInt8 = 10) -> CANErrorFrame { CANErrorFrame(id: flag | 0x204, data: [0, 0x40, 0, 0, 0, 0, tec, 0])! }
    static let busError = CANErrorFrame(id: flag | 0x088, data: [0, 0, 0x88, 0x19, 0, 0, 0, 0])!
}

extension CANControllerStatus {
    static func controller(_ state: CANControllerState, restart: UInt32? = 0, tec: UInt8 = 0, rec: UInt8 = 0,
                           busOffs: Int = 0, restarts: Int = 0) -> CANControllerStatus {
        CANControllerStatus(state: state, transmitErrors: tec, receiveErrors: rec, bitrate: 500_000,
                            restartMilliseconds: restart, busOffs: busOffs, restarts: restarts)
    }
}

extension Array where Element == CanSMAction {
    /// The actions without log lines.
    var withoutLogs: [CanSMAction] {
        filter { if case .log = $0 { return false } else { return true } }
    }

    /// The log lines.
    var logs: [(CanSMLogLevel, String)] {
        compactMap { if case .log(let level, let text) = $0 { return (level, text) } else { return nil } }
    }
}

extension Instant {
    static func ms(_ value: UInt64) -> Instant { .milliseconds(value) }
}
