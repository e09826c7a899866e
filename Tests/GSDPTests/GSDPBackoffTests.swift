import GSDP
import SpaakCore
import XCTest

final class GSDPBackoffTests: XCTestCase {
    func testDoublesFromHalfASecondUpToEightWithinTwentyPercent() {
        var backoff = GSDPBackoff(random: SplitMix64(seed: 7))
        let nominal: [Double] = [500, 1000, 2000, 4000, 8000, 8000, 8000]
        for expected in nominal {
            XCTAssertEqual(backoff.nominalDelay.milliseconds, expected)
            let delay = backoff.next().milliseconds
            XCTAssertGreaterThanOrEqual(delay, expected * 0.8)
            XCTAssertLessThanOrEqual(delay, expected * 1.2)
        }
        XCTAssertEqual(backoff.failures, nominal.count)
    }

    func testJitterComesFromTheInjectedGeneratorAndSpreads() {
        var a = GSDPBackoff(random: SplitMix64(seed: 1)), b = GSDPBackoff(random: SplitMix64(seed: 1))
        var c = GSDPBackoff(random: SplitMix64(seed: 2))
        let first = (0..<5).map { _ in a.next() }
        XCTAssertEqual(first, (0..<5).map { _ in b.next() })
        XCTAssertNotEqual(first, (0..<5).map { _ in c.next() })
        // Many TBMs after the same failure: spread over the whole ±20 % band.
        let delays = (0..<200).map { seed -> Double in
            var backoff = GSDPBackoff(random: SplitMix64(seed: UInt64(seed)))
            return backoff.next().milliseconds
        }
        XCTAssertLessThan(delays.min()!, 420)
        XCTAssertGreaterThan(delays.max()!, 580)
    }

    func testResetStartsOver() {
        var backoff = GSDPBackoff(random: SplitMix64(seed: 3))
        for _ in 0..<6 { _ = backoff.next() }
        XCTAssertEqual(backoff.nominalDelay, .seconds(8))
        backoff.reset()
        XCTAssertEqual(backoff.nominalDelay, .milliseconds(500))
        XCTAssertLessThanOrEqual(backoff.next(), .milliseconds(600))
    }

    func testManyFailuresDoNotOverflow() {
        var backoff = GSDPBackoff(random: SplitMix64(seed: 4))
        for _ in 0..<100 { XCTAssertLessThanOrEqual(backoff.next(), .milliseconds(9600)) }
    }
}
