import GSDP
import SpaakCore
import XCTest

final class GSDPLinkMachineTests: XCTestCase {
    private let urls = ["ws://127.0.0.1:1/gsdp/v1/spaak", "ws://127.0.0.1:2/gsdp/v1/spaak", "ws://127.0.0.1:3/gsdp/v1/spaak"]
    private let hello = GSDPHello(tbm: "tbm-vcan1", serials: ["SPK0000000001"])
    private let clock = VirtualClock(start: .milliseconds(1000))

    private func machine(first: Int = 1) -> GSDPLinkMachine {
        GSDPLinkMachine(urls: urls, firstIndex: first, hello: hello, backoff: GSDPBackoff(random: SplitMix64(seed: 9)), now: clock.now)
    }

    /// Moves the clock to the machine's next deadline and handles it.
    private func nextAttempt(_ link: inout GSDPLinkMachine) -> GSDPLinkMachine.Step {
        guard let deadline = link.nextDeadline else { return GSDPLinkMachine.Step() }
        clock.advance(to: deadline)
        return link.handleTimeout(now: clock.now)
    }

    func testConnectHelloWelcome() {
        var link = machine()
        XCTAssertEqual(link.nextDeadline, clock.now)
        var step = link.handleTimeout(now: clock.now)
        XCTAssertEqual(step.actions, [.connect(urls[1])])
        XCTAssertEqual(link.state, .connecting(url: urls[1], since: clock.now))
        XCTAssertFalse(link.isConnected)

        clock.advance(by: .milliseconds(3))
        step = link.connected(now: clock.now)
        XCTAssertEqual(step.actions, [.sendText(#"{"hello":{"serials":["SPK0000000001"],"tbm":"tbm-vcan1"}}"#)])
        XCTAssertEqual(step.events, [.linkUp(url: urls[1])])
        XCTAssertTrue(link.isConnected)
        XCTAssertFalse(link.isSubscribed)
        XCTAssertNil(link.nextDeadline, "no welcome timeout: the pings watch the connection")

        step = link.receivedText(#"{"welcome":{"instance":"vos-2"}}"#, now: clock.now)
        XCTAssertEqual(step.events, [.subscribed(url: urls[1], instance: "vos-2")])
        XCTAssertEqual(step.events.map(\.description), ["connected to vos-2 at \(urls[1])"])
        XCTAssertTrue(link.isSubscribed)
        XCTAssertEqual(link.instance, "vos-2")
    }

    func testCloseRotatesTheURLAndBacksOff() {
        var link = machine(first: 2)
        _ = link.handleTimeout(now: clock.now)
        _ = link.connected(now: clock.now)
        _ = link.receivedText(#"{"welcome":{"instance":"vos-3"}}"#, now: clock.now)
        clock.advance(by: .seconds(60))
        let step = link.closed(reason: "server closed (1001)", now: clock.now)
        guard case .disconnected(let url, let instance, let reason, let delay)? = step.events.first else { return XCTFail("\(step)") }
        XCTAssertEqual([url, instance, reason], [urls[2], "vos-3", "server closed (1001)"])
        XCTAssertTrue((400...600).contains(delay.milliseconds), "\(delay)")
        XCTAssertEqual(step.events[0].description, "disconnected from vos-3: server closed (1001); next attempt in \(Int(delay.milliseconds.rounded())) ms")
        XCTAssertEqual(link.state, .disconnected(nextAttempt: clock.now + delay))
        XCTAssertFalse(link.isConnected)

        // Nothing before the delay, then the next URL (wrapping round).
        XCTAssertEqual(link.handleTimeout(now: clock.now + (delay - .milliseconds(1))).actions, [])
        XCTAssertEqual(link.nextDeadline, clock.now + delay)
        XCTAssertEqual(nextAttempt(&link).actions, [.connect(urls[0])])
    }

    func testRefusedAttemptsDoubleUntilAWelcomeResets() {
        var link = machine(first: 0)
        var attempts: [(Instant, String)] = []
        for _ in 0..<7 {
            let step = nextAttempt(&link)
            guard case .connect(let url)? = step.actions.first else { return XCTFail("no attempt") }
            attempts.append((clock.now, url))
            _ = link.closed(reason: "connection refused", now: clock.now)
        }
        // Attempts go round the list.
        XCTAssertEqual(attempts.map(\.1), [0, 1, 2, 0, 1, 2, 0].map { urls[$0] })
        XCTAssertEqual(link.backoff.failures, 7)

        // The 8th attempt is welcomed: the back-off starts from 0.5 s again.
        _ = nextAttempt(&link)
        _ = link.connected(now: clock.now)
        _ = link.receivedText(#"{"welcome":{"instance":"vos-1"}}"#, now: clock.now)
        XCTAssertEqual(link.backoff.failures, 0)
        guard case .disconnected(_, _, _, let delay)? = link.closed(reason: "gone", now: clock.now).events.first else { return XCTFail() }
        XCTAssertLessThanOrEqual(delay, .milliseconds(600))
    }

    func testDelaysBetweenFailuresGrowToEightSeconds() {
        var link = machine()
        var last = clock.now
        var gaps: [Double] = []
        for index in 0..<7 {
            _ = nextAttempt(&link)
            if index > 0 { gaps.append((clock.now - last).milliseconds) }
            _ = link.closed(reason: "refused", now: clock.now)
            last = clock.now
        }
        let nominal: [Double] = [500, 1000, 2000, 4000, 8000, 8000]
        for (gap, expected) in zip(gaps, nominal) {
            XCTAssertTrue((expected * 0.8...expected * 1.2).contains(gap), "\(gaps)")
        }
    }

    func testAnAttemptThatHangsIsGivenUp() {
        var link = machine()
        _ = link.handleTimeout(now: clock.now)
        XCTAssertEqual(link.nextDeadline, clock.now + GSDPLinkMachine.connectTimeout)
        clock.advance(by: GSDPLinkMachine.connectTimeout)
        let step = link.handleTimeout(now: clock.now)
        XCTAssertEqual(step.actions, [.close("no connection after 10000 ms")])
        guard case .disconnected(let url, nil, _, _)? = step.events.first else { return XCTFail("\(step)") }
        XCTAssertEqual(url, urls[1])
        // The client reports nothing after a close; a late report is ignored.
        XCTAssertEqual(link.connected(now: clock.now), GSDPLinkMachine.Step())
        XCTAssertEqual(link.closed(reason: "late", now: clock.now), GSDPLinkMachine.Step())
    }

    func testOtherTextIsIgnoredAndChangesNothing() {
        var link = machine()
        _ = link.handleTimeout(now: clock.now)
        _ = link.connected(now: clock.now)
        for text in ["garbage", #"{"hello":{"tbm":"x","serials":[]}}"#, #"{"welcome":{}}"#] {
            let step = link.receivedText(text, now: clock.now)
            XCTAssertEqual(step.actions, [])
            guard case .ignoredText? = step.events.first else { return XCTFail(text) }
            XCTAssertEqual(link.state, .connected(url: urls[1]))
        }
        _ = link.receivedText(#"{"welcome":{"instance":"v"}}"#, now: clock.now)
        XCTAssertEqual(link.receivedText(#"{"welcome":{"instance":"w"}}"#, now: clock.now).events, [.ignoredText("a second welcome")])
        XCTAssertEqual(link.instance, "v")
    }

    func testSuspendClosesAndResumeReconnectsAtOnce() {
        var link = machine()
        _ = link.handleTimeout(now: clock.now)
        _ = link.connected(now: clock.now)
        _ = link.receivedText(#"{"welcome":{"instance":"v"}}"#, now: clock.now)
        var step = link.suspend(reason: "tbm offline")
        XCTAssertEqual(step.actions, [.close("tbm offline")])
        XCTAssertEqual(link.state, .suspended)
        XCTAssertNil(link.nextDeadline)
        XCTAssertEqual(link.suspend(reason: "again"), GSDPLinkMachine.Step())
        XCTAssertEqual(link.closed(reason: "late", now: clock.now), GSDPLinkMachine.Step())
        XCTAssertEqual(link.receivedText(#"{"welcome":{"instance":"v"}}"#, now: clock.now).actions, [])
        XCTAssertFalse(link.isConnected)

        clock.advance(by: .seconds(30))
        step = link.resume(now: clock.now)
        XCTAssertEqual(step.actions, [.connect(urls[1])], "the same URL: a suspension is no failure")
        XCTAssertEqual(link.resume(now: clock.now), GSDPLinkMachine.Step())

        // Suspending while disconnected closes nothing.
        var idle = machine()
        XCTAssertEqual(idle.suspend(reason: "x").actions, [])
    }

    func testFirstIndexIsTakenModuloTheList() {
        XCTAssertEqual(machine(first: 7).urlIndex, 1)
        XCTAssertEqual(machine(first: -1).urlIndex, 2)
    }
}
