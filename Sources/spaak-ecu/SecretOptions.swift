import ArgumentParser
import Glibc
import Logging
import SecureStore

/// The secrets of `spaak-ecu run`, read from its options, files and environment (see
/// `SecretInput`); never printed.
struct ModuleSecrets {
    var plantKey: [UInt8]
    var plantKeySource: SecretInput.PlantKeySource
    var deviceKey: SecureStoreDeviceKey
    var warnings: [String] = []

    /// Logs where each secret came from (never the secret) and the warnings.
    func log(to logger: Logger) {
        logger.info("K_plant from \(plantKeySource.rawValue); \(deviceKey)")
        for warning in warnings { logger.warning("\(warning)") }
    }
}

extension RunModuleCommand {
    /// K_plant and the device key from the options, files and environment; a
    /// `ValidationError` that says what is wrong otherwise.
    func secrets(environment: [String: String]? = nil) throws -> ModuleSecrets {
        let variable = environment.map { $0[SecretInput.plantKeyVariable] }
            ?? getenv(SecretInput.plantKeyVariable).map { String(cString: $0) }
        do {
            let plant = try SecretInput.plantKey(option: plantKey, file: plantKeyFile, environment: variable,
                                                 readFile: SecretInput.readSecretFile)
            var secrets = ModuleSecrets(plantKey: plant.key, plantKeySource: plant.source, deviceKey: .generatedFile)
            if plant.source == .option {
                secrets.warnings.append("K_plant given with --plant-key is visible to every local user (ps); use --plant-key-file or SPAAK_PLANT_KEY")
            }
            if let plantKeyFile, SecretInput.isReadableByOthers(plantKeyFile) {
                secrets.warnings.append("\(plantKeyFile) can be read by other users (chmod 600 it)")
            }
            if let deviceKeyFile {
                let secret = try SecretInput.deviceSecret(fileContent: try SecretInput.readSecretFile(deviceKeyFile),
                                                          path: deviceKeyFile)
                secrets.deviceKey = .derived(fromSecret: secret)
                if SecretInput.isReadableByOthers(deviceKeyFile) {
                    secrets.warnings.append("\(deviceKeyFile) can be read by other users (chmod 600 it)")
                }
            }
            return secrets
        } catch {
            throw ValidationError("\(error)")
        }
    }
}
