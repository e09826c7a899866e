import ArgumentParser
import Glibc
import Logging
import SecureStore

/// `spaak-ecu recreate-store`: the explicit recovery of a store that cannot be used (a
/// damaged or lost device key, a damaged manifest or monotonic counter, a rolled-back
/// folder). Moves the old folder aside to `<store>.damaged-<UTC time>` (never deletes it)
/// and creates a new empty store; refuses without `--confirm-destroy-keys`.
struct RecreateStoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recreate-store",
        abstract: "Replace a damaged secure store by a new empty one; the old folder is kept aside.",
        discussion: """
            Every key, certificate and counter of the module is given up: the module must be \
            provisioned again (plant, then cloud). The old folder is renamed to \
            <store>.damaged-<UTC time> and its monotonic counter file to \
            <counter>.damaged-<UTC time>; nothing is deleted. Without --confirm-destroy-keys \
            nothing is done.
            """)

    @Option(help: "Secure store directory.") var store = "./spaak-store"
    @Option(help: "File of the store's monotonic counter; default: .<store name>.counter beside the store folder.")
    var monotonicCounterFile: String?
    @Option(help: "File holding the device key secret of the new store (as for run); default: a new device.key.")
    var deviceKeyFile: String?
    @Flag(help: "Confirm that every key and record of the store is given up.") var confirmDestroyKeys = false

    func run() throws {
        var deviceKey = SecureStoreDeviceKey.generatedFile
        if let deviceKeyFile {
            do {
                deviceKey = .derived(fromSecret: try SecretInput.deviceSecret(
                    fileContent: try SecretInput.readSecretFile(deviceKeyFile), path: deviceKeyFile))
            } catch {
                throw ValidationError("\(error)")
            }
        }
        let counterPath = monotonicCounterFile ?? FileMonotonicCounter.defaultPath(forStore: store)
        let logger = Logger(label: "spaak-ecu recreate-store")
        do {
            let outcome = try SecureStoreRecreation.recreate(
                directory: store, counterPath: counterPath, timestamp: Self.timestamp(), confirmed: confirmDestroyKeys,
                deviceKey: deviceKey, logger: logger)
            print("spaak-ecu: old store kept in \(outcome.movedFolderTo ?? "(there was none)")"
                  + (outcome.movedCounterTo.map { ", its counter in \($0)" } ?? ""))
            print("spaak-ecu: new empty store in \(store); provision the module again (plant, then cloud)")
        } catch {
            print("spaak-ecu: \(error)")
            throw ExitCode.failure
        }
    }

    /// The UTC time as `YYYYMMDDTHHMMSSZ`.
    static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y%m%dT%H%M%SZ", &parts)
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
