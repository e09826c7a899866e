import Foundation
import SecureStore
import SpaakFuzz

/// `spaak-soak check`: opens the store folder after a kill and prints what it holds, then
/// starts the module on it and reads DID 0xD120 (the module answers):
///
///     STATE <entry>=<value>...   every well-known entry before the module starts
///     CORRUPT <count> <entries>  entries `audit()` reports corrupt
///     D120 <response hex>
///     AFTER <entry>=<value>...   the entries after the module's first turns
enum SoakCheck {
    static func run(root: URL) throws {
        let file = try SoakWorker.openStore(root: root)
        SoakOutput.line("STATE \(StoreSnapshot.line(StoreSnapshot.take(file)))")
        let corrupt = file.audit().filter { if case .corrupt = $0.value { return true } else { return false } }
        SoakOutput.line("CORRUPT \(corrupt.count) \(corrupt.keys.map { "\($0)" }.sorted().joined(separator: ","))")
        let bench = ModuleBench(store: RecordingStore(file))
        bench.advance(by: .milliseconds(200))
        let response = bench.uds([0x22, 0xD1, 0x20])
        SoakOutput.line("D120 \(response.map { String(format: "%02X", $0) }.joined())")
        SoakOutput.line("AFTER \(StoreSnapshot.line(StoreSnapshot.take(file)))")
    }
}
