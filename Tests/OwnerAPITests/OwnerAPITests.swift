import Testing
@testable import OwnerAPI
