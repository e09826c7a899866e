import GSDP
import XCTest

final class GSDPPathTests: XCTestCase {
    func testPath() { XCTAssertEqual(GSDP.path, "/gsdp/v1/spaak") }
}
