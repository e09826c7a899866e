import Foundation
import SpaakFuzz
import Testing

/// Replays the committed corpus and every crash input ever found through each fuzz target
/// without libFuzzer: a crash found once stays a regression test (a trap fails the run).
@Suite struct CorpusReplayTests {
    static func inputs(in folder: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.sorted().filter { !$0.hasPrefix(".") }.map { folder.appendingPathComponent($0) }
    }

    @Test(arguments: FuzzTarget.allCases)
    func corpusAndCrashesReplayWithoutCrash(_ target: FuzzTarget) throws {
        let corpus = Self.inputs(in: target.corpusDirectory)
        #expect(!corpus.isEmpty, "fuzz/corpus/\(target.rawValue) holds the seed corpus")
        for file in corpus + Self.inputs(in: target.crashDirectory) {
            target.run(Array(try Data(contentsOf: file)))
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func emptyAndShortInputsAreHandled(_ target: FuzzTarget) {
        for input: [UInt8] in [[], [0x00], [0xFF], [0x01, 0x02], Array(repeating: 0xFF, count: 64)] {
            target.run(input)
        }
    }
}
