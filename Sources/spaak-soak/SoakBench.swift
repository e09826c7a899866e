import CloudSimulator
import Foundation
import SecureStore
import SpaakCore
import SpaakECU
import SpaakFuzz
import TestPKI

/// The module (on a store) and the simulated TBM + VOS on one in-memory bus and a virtual
/// clock (the same wiring as the in-process tests of SpaakECU).
final class SoakBench {
    let bench: ModuleBench
    let cloud: CloudSimulator
    let pki: TestPKIHierarchy
    private var toCloud: [CANFrame] = []
    /// Sees every frame delivered on the bus (to the module or to the cloud).
    var tap: ((CANFrame, Instant) -> Void)?

    /// `module` sets the module's serial (the VIN is written in plant provisioning); `vos`
    /// the simulated VOS's scrypt cost and password digits.
    init(store: any SecureStore, pki: TestPKIHierarchy, repository: any CloudRepository,
         module: ECUConfiguration = ECUConfiguration(serial: ModuleBench.serial),
         vos configuration: VOSConfiguration = VOSConfiguration(scryptN: 1024)) {
        self.pki = pki
        bench = ModuleBench(store: store, configuration: module)
        let vos = VehicleOEMServer(hierarchy: pki, repository: repository, configuration: configuration)
        cloud = CloudSimulator(vos: vos, tbm: TBMSimulator(now: bench.clock.now, linkState: .offline))
    }

    var date: Date { ModuleBench.wallTime }

    /// Runs module and cloud for `duration` of virtual time, delivering every frame.
    func run(for duration: Duration) {
        let clock = bench.clock
        let end = clock.now + duration
        toCloud += bench.sent
        bench.sent = []
        while true {
            var toModule: [CANFrame] = []
            repeat {
                for frame in toCloud {
                    tap?(frame, clock.now)
                    toModule += cloud.handle(frame, now: clock.now, date: date).frames
                }
                toCloud = []
                for frame in toModule {
                    tap?(frame, clock.now)
                    toCloud += bench.receive(frame)
                }
                toModule = []
                cloud.framesTransmitted(now: clock.now)
                bench.module.framesTransmitted(now: clock.now)
            } while !toCloud.isEmpty
            bench.sent = []
            let next = [bench.module.nextDeadline, cloud.nextDeadline].compactMap { $0 }.min()
            guard let deadline = next, deadline <= end else { clock.advance(to: end); return }
            clock.advance(to: deadline)
            toCloud += bench.module.handleTimeout(now: clock.now)
            for frame in cloud.handleTimeout(now: clock.now, date: date).frames {
                tap?(frame, clock.now)
                toCloud += bench.receive(frame)
            }
            bench.sent = []
        }
    }

    /// A UDS request; V2C frames sent meanwhile go to the cloud at the next `run`.
    @discardableResult
    func uds(_ request: [UInt8]) -> [UInt8] {
        bench.uds(request) { frames in toCloud += frames }
    }

    func control(_ command: ControlCommand) {
        let (_, step) = cloud.control(command, now: bench.clock.now, date: date, readFile: { _ in [] })
        for frame in step.frames { toCloud += bench.receive(frame) }
    }
}
