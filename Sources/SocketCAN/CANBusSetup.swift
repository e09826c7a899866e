import CanSM

/// What a runner learns about its CAN interface at start, in one call: whether it is a
/// controller, its status, how bus-off will be recovered, and one line for the log.
/// (Setting the controller up, `--bitrate`, is the command's: `CANController.configure`.)
public struct CANBusSetup: Equatable, Sendable {
    /// The interface name.
    public let interface: String
    /// Whether the interface is a CAN controller (false for a `vcan`).
    public let isController: Bool
    /// The controller's status at start; `nil` for a `vcan` or when it could not be read.
    public let status: CANControllerStatus?
    /// How bus-off is recovered: `.none` for a `vcan`.
    public let recovery: BusOffRecovery
    /// One line for the log: what the interface is and what the module does on bus-off.
    public let summary: String

    /// Looks at `interface`: a controller's status decides the recovery (restart-ms > 0: the
    /// kernel's, 0: the module's after `moduleRestartDelay`); a `vcan` gets `.none`. Never
    /// throws: an unreadable controller is supervised with the module's recovery (the first
    /// successful poll corrects it) and the summary says why.
    public static func inspect(_ interface: String,
                               moduleRestartDelay: Duration = BusOffRecovery.defaultModuleDelay) -> CANBusSetup {
        do {
            let status = try CANController.status(of: interface)
            let recovery = BusOffRecovery(status: status, moduleDelay: moduleRestartDelay)
            let rate = status.bitrate.map { "\($0) bit/s" } ?? "no bitrate set"
            return CANBusSetup(interface: interface, isController: true, status: status, recovery: recovery,
                               summary: "\(interface): CAN controller \(status.state), \(rate), TEC \(status.transmitErrors), "
                                   + "REC \(status.receiveErrors); on bus-off transmission halts and \(recovery)")
        } catch .notAController, .notCAN {
            return CANBusSetup(interface: interface, isController: false, status: nil, recovery: .none,
                               summary: "\(interface): virtual CAN interface (no controller, no bus-off)")
        } catch .noSuchInterface {
            return CANBusSetup(interface: interface, isController: false, status: nil, recovery: .none,
                               summary: "\(interface): no such interface")
        } catch {
            let recovery = BusOffRecovery.module(after: moduleRestartDelay)
            return CANBusSetup(interface: interface, isController: true, status: nil, recovery: recovery,
                               summary: "\(interface): CAN controller status unreadable (\(error)); "
                                   + "on bus-off transmission halts and \(recovery)")
        }
    }
}

extension CANBusSetup {
    /// Sets the controller up as the command line asked (`--bitrate N [--restart-ms N]`):
    /// stop, bitrate, restart-ms, start. Returns a line for the log; throws with a text that
    /// begins with `--bitrate:` (not a controller, no CAP_NET_ADMIN, a refused bitrate).
    public static func configure(_ interface: String, _ setup: CANControllerSetup) throws(CANBusSetupError) -> String {
        do {
            try CANController.configure(interface, setup)
        } catch {
            throw CANBusSetupError(underlying: error)
        }
        let restart = setup.restartMilliseconds.map { ", restart-ms \($0)" } ?? ""
        return "\(interface): CAN controller set up at \(setup.bitrate) bit/s\(restart) and started"
    }
}

/// A controller setup asked for with `--bitrate` that failed.
public struct CANBusSetupError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Why.
    public let underlying: CANControllerError

    public var description: String { "--bitrate: \(underlying)" }
}
