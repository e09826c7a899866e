import CanSM
import SpaakCore
import XCTest

/// CanStateManager on the bus: states from error frames and polls, polling, floods,
/// the virtual interface and the DID counters (bus-off recovery: CanStateManagerRecoveryTests).
final class CanStateManagerTests: XCTestCase {
    func testStartsUnknownPollsAtOnceThenEverySecond() {
        var sm = CanStateManager(recovery: .kernel(restartMilliseconds: 100), now: .ms(0))
        XCTAssertEqual(sm.state, .unknown)
        XCTAssertTrue(sm.transmissionAllowed)
        XCTAssertEqual(sm.nextDeadline, .ms(0))
        XCTAssertEqual(sm.handleTimeout(now: .ms(0)), [.pollController])
        let actions = sm.handle(.controller(.errorActive, restart: 100), now: .ms(1))
        XCTAssertEqual(actions.withoutLogs, [])
        XCTAssertEqual(actions.logs.count, 1)
        XCTAssertEqual(sm.state, .errorActive)
        XCTAssertEqual(sm.nextDeadline, .ms(1001))
        XCTAssertEqual(sm.handleTimeout(now: .ms(1000)), [])
        XCTAssertEqual(sm.handleTimeout(now: .ms(1001)), [.pollController])
        // No status comes back (a failed read): the polls go on.
        XCTAssertEqual(sm.nextDeadline, .ms(2001))
        XCTAssertEqual(sm.handleTimeout(now: .ms(2001)), [.pollController])
    }

    func testErrorFramesMoveThroughWarningPassiveAndBackWithoutHalting() {
        var sm = started(.kernel(restartMilliseconds: 100))
        let warning = sm.handle(Frames.warning(tec: 96), now: .ms(500))
        XCTAssertEqual(warning.withoutLogs, [.pollController])
        XCTAssertEqual(warning.logs.map(\.0), [.notice])
        XCTAssertTrue(warning.logs[0].1.contains("error-warning (was error-active; TEC 96"), warning.logs[0].1)
        XCTAssertEqual(sm.state, .errorWarning)

        // A second change within the poll gap: logged, the poll waits for the gap.
        let passive = sm.handle(Frames.passive(tec: 128), now: .ms(550))
        XCTAssertEqual(passive.withoutLogs, [])
        XCTAssertEqual(passive.logs.map(\.0), [.warning])
        XCTAssertEqual(sm.state, .errorPassive)
        XCTAssertEqual(sm.nextDeadline, .ms(600))
        XCTAssertEqual(sm.handleTimeout(now: .ms(600)), [.pollController])

        let active = sm.handle(Frames.active(tec: 10), now: .ms(700))
        XCTAssertEqual(active.withoutLogs, [.pollController])
        XCTAssertEqual(active.logs.map(\.0), [.notice])
        XCTAssertEqual(sm.state, .errorActive)
        XCTAssertTrue(sm.transmissionAllowed)
        var diagnostics = CANBusDiagnostics()
        sm.diagnostics(into: &diagnostics)
        XCTAssertEqual(diagnostics.transmitErrors, 10)
        XCTAssertEqual(diagnostics.errorFrames, 3)
    }

    func testPolledStateChangesAreTakenAndLoggedOnce() {
        var sm = started(.kernel(restartMilliseconds: 100))
        let first = sm.handle(.controller(.errorPassive, restart: 100, tec: 140), now: .ms(1000))
        XCTAssertEqual(first.logs.map(\.0), [.warning])
        XCTAssertEqual(sm.state, .errorPassive)
        XCTAssertEqual(sm.handle(.controller(.errorPassive, restart: 100, tec: 141), now: .ms(2000)), [])
        // An unreadable state changes nothing.
        XCTAssertEqual(sm.handle(.controller(.unknown, restart: 100), now: .ms(3000)), [])
        XCTAssertEqual(sm.state, .errorPassive)
    }

    func testErrorFrameFloodIsCountedNotLoggedAndPollsStayBounded() {
        var sm = started(.kernel(restartMilliseconds: 100))
        var actions: [CanSMAction] = []
        for index in 0..<10_000 {
            actions += sm.handle(Frames.busError, now: .ms(100 + UInt64(index / 100)))
        }
        XCTAssertEqual(actions, [])
        for index in 0..<1_000 {
            actions += sm.handle(Frames.passive(tec: 128 + UInt8(index % 100)), now: .ms(300 + UInt64(index / 100)))
        }
        XCTAssertEqual(actions.logs.count, 1)
        XCTAssertEqual(actions.withoutLogs, [.pollController])
        var diagnostics = CANBusDiagnostics()
        sm.diagnostics(into: &diagnostics)
        XCTAssertEqual(diagnostics.errorFrames, 11_000)
        XCTAssertEqual(diagnostics.state, .errorPassive)
    }

    func testVirtualInterfaceNeverHaltsNeverPollsButCounts() {
        var sm = CanStateManager(recovery: .none, now: .ms(0))
        XCTAssertEqual(sm.state, .virtual)
        XCTAssertNil(sm.nextDeadline)
        XCTAssertEqual(sm.handleTimeout(now: .ms(5000)), [])
        XCTAssertEqual(sm.handle(Frames.busOff, now: .ms(5001)), [])
        XCTAssertEqual(sm.handle(.controller(.busOff), now: .ms(5002)), [])
        XCTAssertEqual(sm.restartFailed("x", now: .ms(5003)), [])
        XCTAssertTrue(sm.transmissionAllowed)
        XCTAssertEqual(sm.state, .virtual)
        var diagnostics = CANBusDiagnostics()
        diagnostics.refusedWrites = 4
        sm.diagnostics(into: &diagnostics)
        XCTAssertEqual(Array(diagnostics.record.prefix(7)), [0xFE, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(diagnostics.errorFrames, 1)
        XCTAssertEqual(diagnostics.refusedWrites, 4, "the shell's counters are left alone")
    }

    func testDiagnosticsTakeCountersAndTheKernelsCountsSinceTheFirstPoll() {
        var sm = CanStateManager(recovery: .kernel(restartMilliseconds: 100), now: .ms(0))
        _ = sm.handleTimeout(now: .ms(0))
        _ = sm.handle(.controller(.errorPassive, restart: 100, tec: 130, rec: 5, busOffs: 7, restarts: 7), now: .ms(0))
        var diagnostics = CANBusDiagnostics()
        sm.diagnostics(into: &diagnostics)
        XCTAssertEqual(Array(diagnostics.record.prefix(11)), [2, 130, 5, 0x00, 0x07, 0xA1, 0x20, 0, 0, 0, 0])
        // Two bus-offs and restarts between polls that no error frame told of.
        _ = sm.handle(.controller(.errorActive, restart: 100, busOffs: 9, restarts: 9), now: .ms(1000))
        for _ in 0..<3 { _ = sm.handle(Frames.busError, now: .ms(1100)) }
        sm.errorFramesDropped(total: 5)
        sm.diagnostics(into: &diagnostics)
        XCTAssertEqual(diagnostics.state, .errorActive)
        XCTAssertEqual(diagnostics.busOffs, 2)
        XCTAssertEqual(diagnostics.recoveries, 2)
        XCTAssertEqual(diagnostics.errorFrames, 8)
        XCTAssertEqual(diagnostics.bitrate, 500_000)
    }

    func testStoppedInterfaceIsReportedAndDoesNotHalt() {
        var sm = started(.kernel(restartMilliseconds: 100))
        let actions = sm.handle(.controller(.stopped, restart: 100), now: .ms(1000))
        XCTAssertEqual(actions.logs.map(\.0), [.warning])
        XCTAssertEqual(sm.state, .stopped)
        XCTAssertTrue(sm.transmissionAllowed)
        XCTAssertEqual(sm.handle(.controller(.errorActive, restart: 100), now: .ms(2000)).logs.map(\.0), [.notice])
    }
}

/// A machine that polled at 0 and learnt error-active with the recovery's restart-ms.
func started(_ recovery: BusOffRecovery, quiet: Duration = .milliseconds(100)) -> CanStateManager {
    var sm = CanStateManager(recovery: recovery, quietPeriod: quiet, now: .ms(0))
    _ = sm.handleTimeout(now: .ms(0))
    var restart: UInt32 = 0
    if case .kernel(let ms) = recovery { restart = ms }
    _ = sm.handle(.controller(.errorActive, restart: restart), now: .ms(0))
    return sm
}
