import CloudPostgres
import XCTest

final class CloudPostgresSmokeTests: XCTestCase {
    func testLinks() {}
}
