/// An error frame of a CAN controller as Linux delivers it on a raw socket with
/// `CAN_RAW_ERR_FILTER` set (`linux/can/error.h`): the error classes in the identifier,
/// details in the 8 data bytes.
///
/// Byte layout: data[0] lost-arbitration bit, data[1] controller status, data[2] protocol
/// error type, data[3] protocol error location, data[4] transceiver status, data[5]
/// controller-specific, data[6]/data[7] the TX/RX error counters (valid with `.counters`).
public struct CANErrorFrame: Equatable, Sendable, CustomStringConvertible {
    /// `can_id` flag of an error frame (`CAN_ERR_FLAG`).
    public static let errorFlag: UInt32 = 0x2000_0000
    /// The bits of `can_id` that carry error classes (`CAN_ERR_MASK`).
    public static let classMask: UInt32 = 0x1FFF_FFFF

    /// The error classes (the identifier's bits without the flags).
    public var classes: CANErrorClasses
    /// data[1]: what the controller reported (meaningful with `.controller`).
    public var controllerStatus: CANControllerErrorStatus
    /// data[2]: the protocol error's type bits (`CAN_ERR_PROT_*`, with `.protocolViolation`).
    public var protocolType: UInt8
    /// data[3]: where in the frame the protocol error was (`CAN_ERR_PROT_LOC_*`).
    public var protocolLocation: UInt8
    /// data[4]: the transceiver's status (`CAN_ERR_TRX_*`, with `.transceiver`).
    public var transceiverStatus: UInt8
    /// data[6]: the transmit error counter, when the frame carries counters (`CAN_ERR_CNT`).
    public var transmitErrors: UInt8?
    /// data[7]: the receive error counter, when the frame carries counters (`CAN_ERR_CNT`).
    public var receiveErrors: UInt8?

    /// Decodes an error frame: `id` is the raw `can_id` with its flags, `data` its payload
    /// (shorter payloads read as zero-padded to 8 bytes). `nil` when `CAN_ERR_FLAG` is not set.
    public init?(id: UInt32, data: [UInt8]) {
        guard id & Self.errorFlag != 0 else { return nil }
        func byte(_ index: Int) -> UInt8 { index < data.count ? data[index] : 0 }
        classes = CANErrorClasses(rawValue: id & Self.classMask)
        controllerStatus = CANControllerErrorStatus(rawValue: byte(1))
        protocolType = byte(2)
        protocolLocation = byte(3)
        transceiverStatus = byte(4)
        if classes.contains(.counters) {
            transmitErrors = byte(6)
            receiveErrors = byte(7)
        } else {
            transmitErrors = nil
            receiveErrors = nil
        }
    }

    /// The controller state this frame reports, or `nil` when it reports none (a bus
    /// error, a lost arbitration, an overflow): bus-off first, then the controller status
    /// (passive over warning over back-to-active), then a restart (error-active).
    public var impliedState: CANControllerState? {
        if classes.contains(.busOff) { return .busOff }
        if classes.contains(.controller) {
            let status = controllerStatus
            if !status.isDisjoint(with: [.rxPassive, .txPassive]) { return .errorPassive }
            if !status.isDisjoint(with: [.rxWarning, .txWarning]) { return .errorWarning }
            if status.contains(.active) { return .errorActive }
        }
        if classes.contains(.restarted) { return .errorActive }
        return nil
    }

    public var description: String {
        var text = "error frame [\(classes)]"
        if classes.contains(.controller) { text += " controller [\(controllerStatus)]" }
        if let transmitErrors, let receiveErrors { text += " TEC \(transmitErrors) REC \(receiveErrors)" }
        return text
    }
}

/// The error classes of an error frame (`CAN_ERR_*` bits of `can_id`).
public struct CANErrorClasses: OptionSet, Equatable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// TX timeout (by the netdevice driver), `CAN_ERR_TX_TIMEOUT`.
    public static let txTimeout = CANErrorClasses(rawValue: 0x001)
    /// Lost arbitration (data[0]), `CAN_ERR_LOSTARB`.
    public static let lostArbitration = CANErrorClasses(rawValue: 0x002)
    /// Controller problems (data[1]), `CAN_ERR_CRTL`.
    public static let controller = CANErrorClasses(rawValue: 0x004)
    /// Protocol violations (data[2..3]), `CAN_ERR_PROT`.
    public static let protocolViolation = CANErrorClasses(rawValue: 0x008)
    /// Transceiver status (data[4]), `CAN_ERR_TRX`.
    public static let transceiver = CANErrorClasses(rawValue: 0x010)
    /// No ACK on transmission, `CAN_ERR_ACK`.
    public static let noAck = CANErrorClasses(rawValue: 0x020)
    /// Bus-off, `CAN_ERR_BUSOFF`.
    public static let busOff = CANErrorClasses(rawValue: 0x040)
    /// Bus error (may flood), `CAN_ERR_BUSERROR`.
    public static let busError = CANErrorClasses(rawValue: 0x080)
    /// Controller restarted, `CAN_ERR_RESTARTED`.
    public static let restarted = CANErrorClasses(rawValue: 0x100)
    /// TX/RX error counters in data[6]/data[7], `CAN_ERR_CNT`.
    public static let counters = CANErrorClasses(rawValue: 0x200)

    private static let names: [(CANErrorClasses, String)] = [
        (.txTimeout, "tx-timeout"), (.lostArbitration, "lost-arbitration"), (.controller, "controller"),
        (.protocolViolation, "protocol"), (.transceiver, "transceiver"), (.noAck, "no-ack"),
        (.busOff, "bus-off"), (.busError, "bus-error"), (.restarted, "restarted"), (.counters, "counters"),
    ]

    public var description: String {
        Self.names.filter { contains($0.0) }.map(\.1).joined(separator: ",")
    }
}

/// data[1] of an error frame of class `.controller` (`CAN_ERR_CRTL_*`).
public struct CANControllerErrorStatus: OptionSet, Equatable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// RX buffer overflow.
    public static let rxOverflow = CANControllerErrorStatus(rawValue: 0x01)
    /// TX buffer overflow.
    public static let txOverflow = CANControllerErrorStatus(rawValue: 0x02)
    /// The RX error counter reached the warning level (96).
    public static let rxWarning = CANControllerErrorStatus(rawValue: 0x04)
    /// The TX error counter reached the warning level (96).
    public static let txWarning = CANControllerErrorStatus(rawValue: 0x08)
    /// The RX error counter reached error-passive (128).
    public static let rxPassive = CANControllerErrorStatus(rawValue: 0x10)
    /// The TX error counter reached error-passive (128).
    public static let txPassive = CANControllerErrorStatus(rawValue: 0x20)
    /// Back to error-active.
    public static let active = CANControllerErrorStatus(rawValue: 0x40)

    private static let names: [(CANControllerErrorStatus, String)] = [
        (.rxOverflow, "rx-overflow"), (.txOverflow, "tx-overflow"), (.rxWarning, "rx-warning"),
        (.txWarning, "tx-warning"), (.rxPassive, "rx-passive"), (.txPassive, "tx-passive"), (.active, "active"),
    ]

    public var description: String {
        Self.names.filter { contains($0.0) }.map(\.1).joined(separator: ",")
    }
}
