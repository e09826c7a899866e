import Foundation
import Logging
import SecureStore
import TestPKI

/// Fixtures built once per process: the test PKI, and stores in a simulated file system
/// that each input starts from (copied, so inputs do not affect each other).
enum FuzzFixtures {
    /// The committed test PKI in `fuzz/pki` (so that the corpus certificates chain to it);
    /// generated if the folder is missing.
    static let pki: TestPKIHierarchy = {
        let folder = FuzzTarget.repositoryRoot.appendingPathComponent("fuzz/pki")
        if let loaded = try? TestPKIHierarchy.load(from: folder) { return loaded }
        return try! TestPKIHierarchy.generate(now: ModuleBench.wallTime)
    }()

    /// The device key secret of every fuzz store.
    static let secret = Array("spaak-fuzz device key secret!!".utf8)
    static let directory = "/store"

    /// A provisioned (plant-locked) store, built through UDS like a plant would.
    static let provisioned: SimulatedFileSystem = {
        let fileSystem = SimulatedFileSystem()
        let store = try! FileSecureStore(directory: directory, deviceKey: .derived(fromSecret: secret),
                                         fileSystem: fileSystem, logger: ModuleBench.silentLogger)
        let bench = ModuleBench(store: store)
        bench.unlock()
        for step in ModuleBench.plantSteps(pki: pki) { bench.run(step, pki: pki) }
        try? store.writeCounter(.c2vCounter, 41)
        try? store.writeCounter(.v2cCounter, 7)
        try? store.write(.spake2Verifier, Array(repeating: 0x42, count: 96))
        return fileSystem
    }()

    /// A copy of `provisioned` as a process crash would leave it.
    static func provisionedCopy() -> SimulatedFileSystem {
        provisioned.survivor(keepingMetadata: nil, keepingUnsyncedData: true)
    }

    static func open(_ fileSystem: SimulatedFileSystem) throws(SecureStoreError) -> FileSecureStore {
        try FileSecureStore(directory: directory, deviceKey: .derived(fromSecret: secret), fileSystem: fileSystem,
                            logger: ModuleBench.silentLogger)
    }
}
