import Testing
@testable import OwnerServices
