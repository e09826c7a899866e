import ArgumentParser
import Foundation
import SpaakCore

/// `spaak-phone`: the NFC reader, the owner's phone and the head unit's start button on a
/// SocketCAN bus, for owner pairing with `spaak-ecu` (ICD 8).
@main
struct SpaakPhoneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spaak-phone",
        abstract: "Simulated NFC reader and owner's phone for SpaaK owner pairing (ICD 8).",
        discussion: """
            `pair` plays the reader (NFC_Status 0x3B0 every 100 ms) and the phone in its field \
            (command APDUs on ISO-TP 0x6B0, responses on 0x6B8): phase 2 in a first tap, phase 3 \
            in a second one. `hu-start` sends HU_Request 0x01, which opens the pairing window.

            Exit status: 0 the phases asked for are done (the module confirmed them in \
            SPAAK_Status byte 7), 1 pairing failed (the device or the module refused, the module \
            stopped answering, or a signal stopped the run), 2 usage or setup error (missing \
            interface, PKI file, unreadable key file …).
            """,
        subcommands: [Pair.self, HUStart.self])

    /// Parses and runs like ArgumentParser, but a usage error exits with status 2.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch {
            if exitCode(for: error) == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(2)
        }
    }
}

/// Exit statuses of `spaak-phone`.
enum PhoneExit {
    static let paired = ExitCode(0)
    static let failed = ExitCode(1)
    static let setup = ExitCode(2)
}

/// Prints `spaak-phone: <message>` on stderr.
func complain(_ message: String) {
    FileHandle.standardError.write(Data("spaak-phone: \(message)\n".utf8))
}

/// Parses an 11-bit CAN identifier in hex for an option.
func hexIdentifier(_ text: String) throws -> UInt32 {
    guard let id = CANFrame.standardIdentifier(hex: text) else {
        throw ValidationError("\(text) is not an 11-bit CAN identifier in hex")
    }
    return id
}
