import CanSM
import SpaakCore
import XCTest

/// CanStateManager at bus-off: the kernel's restart-ms, the module's restart with retries
/// and backoff, the quiet period, bus-off again.
final class CanStateManagerRecoveryTests: XCTestCase {
    func testKernelRecoveryByTheRestartedFrameThenQuietThenResume() {
        var sm = started(.kernel(restartMilliseconds: 100))
        let off = sm.handle(Frames.busOff, now: .ms(200))
        XCTAssertEqual(off.withoutLogs, [.haltTransmission, .pollController])
        XCTAssertEqual(off.logs.map(\.0), [.warning])
        XCTAssertTrue(off.logs[0].1.contains("the kernel restarts the controller after 100 ms"), off.logs[0].1)
        XCTAssertEqual(sm.state, .busOff)
        XCTAssertFalse(sm.transmissionAllowed)
        XCTAssertEqual(sm.nextDeadline, .ms(350), "a poll when the kernel's restart is due")
        // A repeated bus-off frame changes nothing.
        XCTAssertEqual(sm.handle(Frames.busOff, now: .ms(210)), [])

        let back = sm.handle(Frames.restarted, now: .ms(300))
        XCTAssertEqual(back.withoutLogs, [.pollController])
        XCTAssertEqual(back.logs.map(\.0), [.notice])
        XCTAssertTrue(back.logs[0].1.contains("back on the bus (error-active) after 100 ms bus-off"), back.logs[0].1)
        XCTAssertEqual(sm.state, .errorActive)
        XCTAssertFalse(sm.transmissionAllowed, "quiet period")
        XCTAssertEqual(sm.nextDeadline, .ms(400))
        XCTAssertEqual(sm.handleTimeout(now: .ms(399)), [])
        let resume = sm.handleTimeout(now: .ms(400))
        XCTAssertEqual(resume.withoutLogs, [.resumeTransmission])
        XCTAssertTrue(resume.logs[0].1.contains("transmission resumed (200 ms after bus-off)"), resume.logs[0].1)
        XCTAssertTrue(sm.transmissionAllowed)
        var diagnostics = CANBusDiagnostics()
        sm.diagnostics(into: &diagnostics)
        XCTAssertEqual(diagnostics.busOffs, 1)
        XCTAssertEqual(diagnostics.recoveries, 1)
        XCTAssertEqual(diagnostics.state, .errorActive)
    }

    func testBusOffSeenOnlyByPollsAndKernelRecoverySeenByPoll() {
        var sm = started(.kernel(restartMilliseconds: 100))
        XCTAssertEqual(sm.handleTimeout(now: .ms(1000)), [.pollController])
        let off = sm.handle(.controller(.busOff, restart: 100, tec: 255, busOffs: 1), now: .ms(1000))
        XCTAssertEqual(off.withoutLogs, [.haltTransmission])
        XCTAssertEqual(sm.nextDeadline, .ms(1150))
        XCTAssertEqual(sm.handleTimeout(now: .ms(1150)), [.pollController])
        XCTAssertEqual(sm.handle(.controller(.busOff, restart: 100, busOffs: 1), now: .ms(1150)), [], "still waiting")
        XCTAssertEqual(sm.nextDeadline, .ms(1300))
        let back = sm.handle(.controller(.errorActive, restart: 100, busOffs: 1, restarts: 1), now: .ms(1300))
        XCTAssertEqual(back.logs.map(\.0), [.notice])
        XCTAssertEqual(sm.handleTimeout(now: .ms(1400)).withoutLogs, [.resumeTransmission])
        var diagnostics = CANBusDiagnostics()
        sm.diagnostics(into: &diagnostics)
        XCTAssertEqual(diagnostics.busOffs, 1)
        XCTAssertEqual(diagnostics.recoveries, 1)
    }

    func testModuleRecoveryRestartsAfterTheDelayThenQuietThenResume() {
        var sm = started(.module(after: .milliseconds(50)))
        let off = sm.handle(Frames.busOff, now: .ms(200))
        XCTAssertEqual(off.withoutLogs, [.haltTransmission, .pollController])
        XCTAssertTrue(off.logs[0].1.contains("restart in 50 ms"), off.logs[0].1)
        XCTAssertEqual(sm.nextDeadline, .ms(250))
        XCTAssertEqual(sm.handleTimeout(now: .ms(249)), [])
        XCTAssertEqual(sm.handleTimeout(now: .ms(250)), [.restartController, .pollController])
        XCTAssertFalse(sm.transmissionAllowed)
        let back = sm.handle(.controller(.errorActive, restart: 0, restarts: 1), now: .ms(251))
        XCTAssertEqual(back.logs.map(\.0), [.notice])
        XCTAssertFalse(sm.transmissionAllowed)
        XCTAssertEqual(sm.nextDeadline, .ms(351))
        XCTAssertEqual(sm.handleTimeout(now: .ms(351)).withoutLogs, [.resumeTransmission])
        XCTAssertTrue(sm.transmissionAllowed)
    }

    func testRestartFailuresRetryWithDoublingDelayUpToTheCap() {
        var sm = started(.module(after: .milliseconds(50)))
        _ = sm.handle(Frames.busOff, now: .ms(200))
        var now: UInt64 = 250
        XCTAssertEqual(sm.handleTimeout(now: .ms(now)), [.restartController, .pollController])
        /// Runs the deadlines (polls answered "still bus-off") until the next restart; its time.
        func nextRestart() -> UInt64 {
            while true {
                let due = sm.nextDeadline!.milliseconds
                let actions = sm.handleTimeout(now: .ms(due))
                if actions.contains(.restartController) {
                    XCTAssertEqual(actions, [.restartController, .pollController])
                    return due
                }
                XCTAssertEqual(actions, [.pollController])
                XCTAssertEqual(sm.handle(.controller(.busOff, restart: 0), now: .ms(due)), [])
            }
        }
        var delays: [UInt64] = []
        for attempt in 0..<8 {
            // Alternately: the restart call fails, or it worked but the poll says still bus-off.
            let failed = attempt.isMultiple(of: 2)
                ? sm.restartFailed("Operation not permitted", now: .ms(now))
                : sm.handle(.controller(.busOff, restart: 0), now: .ms(now))
            XCTAssertEqual(failed.withoutLogs, [])
            XCTAssertEqual(failed.logs.map(\.0), [.warning])
            let restartAt = nextRestart()
            delays.append(restartAt - now)
            now = restartAt
            XCTAssertFalse(sm.transmissionAllowed)
        }
        XCTAssertEqual(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000])
        XCTAssertEqual(sm.handle(.controller(.errorActive, restart: 0), now: .ms(now)).logs.map(\.0), [.notice])
        XCTAssertEqual(sm.handleTimeout(now: .ms(now + 100)).withoutLogs, [.resumeTransmission])
    }

    func testFailureTextIsLogged() {
        var sm = started(.module(after: .milliseconds(50)))
        _ = sm.handle(Frames.busOff, now: .ms(200))
        _ = sm.handleTimeout(now: .ms(250))
        let failed = sm.restartFailed("restarting can0 needs CAP_NET_ADMIN", now: .ms(250))
        XCTAssertEqual(failed.logs.first?.1,
                       "bus-off: the restart failed (restarting can0 needs CAP_NET_ADMIN); restart 2 in 100 ms")
    }

    func testBusOffAgainRightAfterTheModulesRestartIsCountedAndRetried() {
        var sm = started(.module(after: .milliseconds(50)))
        _ = sm.handle(Frames.busOff, now: .ms(200))
        _ = sm.handleTimeout(now: .ms(250))
        let again = sm.handle(Frames.busOff, now: .ms(260))
        XCTAssertTrue(again.logs[0].1.contains("bus-off again after the restart; restart 2 in 100 ms"), again.logs[0].1)
        XCTAssertEqual(sm.nextDeadline, .ms(360))
        var diagnostics = CANBusDiagnostics()
        sm.diagnostics(into: &diagnostics)
        XCTAssertEqual(diagnostics.busOffs, 2)
        XCTAssertEqual(diagnostics.recoveries, 0)
    }

    func testRepeatedBusOffSoonAfterResumeBacksOffAndAStableBusResetsIt() {
        var sm = started(.module(after: .milliseconds(50)))
        func cycle(busOffAt: UInt64) -> String {
            let off = sm.handle(Frames.busOff, now: .ms(busOffAt))
            let due = sm.nextDeadline!.milliseconds
            _ = sm.handleTimeout(now: .ms(due))
            _ = sm.handle(.controller(.errorActive, restart: 0), now: .ms(due))
            _ = sm.handleTimeout(now: .ms(due + 100))
            XCTAssertTrue(sm.transmissionAllowed)
            return off.logs[0].1
        }
        XCTAssertTrue(cycle(busOffAt: 200).hasSuffix("restart in 50 ms"))
        XCTAssertTrue(cycle(busOffAt: 600).hasSuffix("restart in 100 ms (bus-off 2 in a row)"))
        XCTAssertTrue(cycle(busOffAt: 1000).hasSuffix("restart in 200 ms (bus-off 3 in a row)"))
        XCTAssertTrue(cycle(busOffAt: 5000).hasSuffix("restart in 50 ms"), "more than a second on the bus")
    }

    func testBusOffDuringTheQuietPeriodHaltsAgainWithoutASecondHalt() {
        var sm = started(.kernel(restartMilliseconds: 100))
        _ = sm.handle(Frames.busOff, now: .ms(200))
        _ = sm.handle(Frames.restarted, now: .ms(300))
        let again = sm.handle(Frames.busOff, now: .ms(350))
        XCTAssertEqual(again.withoutLogs, [], "already halted; the poll waits for its gap")
        XCTAssertEqual(sm.state, .busOff)
        XCTAssertEqual(sm.handleTimeout(now: .ms(400)).filter { $0 == .resumeTransmission }, [])
        XCTAssertFalse(sm.transmissionAllowed)
        var diagnostics = CANBusDiagnostics()
        sm.diagnostics(into: &diagnostics)
        XCTAssertEqual(diagnostics.busOffs, 2)
        XCTAssertEqual(diagnostics.recoveries, 1)
    }

    func testStateChangesDuringTheQuietPeriodAreFollowed() {
        var sm = started(.kernel(restartMilliseconds: 100))
        _ = sm.handle(Frames.busOff, now: .ms(200))
        _ = sm.handle(Frames.restarted, now: .ms(300))
        XCTAssertEqual(sm.handle(Frames.warning(), now: .ms(320)).logs.map(\.0), [.notice])
        XCTAssertEqual(sm.state, .errorWarning)
        XCTAssertFalse(sm.transmissionAllowed)
        XCTAssertEqual(sm.handleTimeout(now: .ms(400)).withoutLogs, [.resumeTransmission, .pollController])
        XCTAssertEqual(sm.state, .errorWarning)
    }

    func testZeroQuietPeriodResumesOnRecovery() {
        var sm = started(.kernel(restartMilliseconds: 100), quiet: .zero)
        _ = sm.handle(Frames.busOff, now: .ms(200))
        let back = sm.handle(Frames.restarted, now: .ms(300))
        XCTAssertEqual(back.withoutLogs, [.resumeTransmission, .pollController])
        XCTAssertTrue(sm.transmissionAllowed)
    }

    func testRecoveryFollowsThePolledRestartMs() {
        var sm = CanStateManager(recovery: .kernel(restartMilliseconds: 100), now: .ms(0))
        _ = sm.handleTimeout(now: .ms(0))
        let learnt = sm.handle(.controller(.errorActive, restart: 0), now: .ms(0))
        XCTAssertEqual(learnt.logs.map(\.0), [.info, .notice])
        XCTAssertEqual(learnt.logs[0].1, "bus-off recovery: the module restarts it after 100 ms")
        XCTAssertEqual(sm.recovery, .module(after: .milliseconds(100)))
        _ = sm.handle(Frames.busOff, now: .ms(200))
        XCTAssertEqual(sm.nextDeadline, .ms(300))

        // Kernel recovery switched off while bus-off: the module restarts at once.
        var kernel = started(.kernel(restartMilliseconds: 100))
        _ = kernel.handle(Frames.busOff, now: .ms(200))
        _ = kernel.handle(.controller(.busOff, restart: 0), now: .ms(250))
        XCTAssertEqual(kernel.handleTimeout(now: .ms(250)), [.restartController, .pollController])
        // And switched on while the module waits: the module no longer restarts.
        var module = started(.module(after: .milliseconds(500)))
        _ = module.handle(Frames.busOff, now: .ms(200))
        _ = module.handle(.controller(.busOff, restart: 20), now: .ms(250))
        XCTAssertEqual(module.recovery, .kernel(restartMilliseconds: 20))
        XCTAssertEqual(module.handleTimeout(now: .ms(700)).filter { $0 == .restartController }, [])
    }

    func testRestartFailedOutsideBusOffIsIgnored() {
        var sm = started(.module(after: .milliseconds(50)))
        XCTAssertEqual(sm.restartFailed("not bus-off", now: .ms(100)), [])
        XCTAssertEqual(sm.state, .errorActive)
    }

    func testZeroModuleDelayNeverRetriesInALoop() {
        var sm = started(.module(after: .zero))
        _ = sm.handle(Frames.busOff, now: .ms(200))
        XCTAssertEqual(sm.handleTimeout(now: .ms(200)).prefix(1), [.restartController])
        _ = sm.restartFailed("EIO", now: .ms(200))
        XCTAssertEqual(sm.nextDeadline, .ms(220))
    }

    func testRecoveryDecidedFromTheControllersStatus() {
        XCTAssertEqual(BusOffRecovery(status: nil), .none)
        XCTAssertEqual(BusOffRecovery(status: CANControllerStatus(state: .virtual)), .none)
        XCTAssertEqual(BusOffRecovery(status: .controller(.errorActive, restart: 100)), .kernel(restartMilliseconds: 100))
        XCTAssertEqual(BusOffRecovery(status: .controller(.errorActive, restart: 0)), .module(after: .milliseconds(100)))
        XCTAssertEqual(BusOffRecovery(status: .controller(.busOff, restart: nil), moduleDelay: .milliseconds(20)),
                       .module(after: .milliseconds(20)))
    }
}
