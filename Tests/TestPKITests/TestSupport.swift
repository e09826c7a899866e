import Foundation

/// A fresh empty directory under the system temporary directory.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("testpki-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Removes a temporary directory made by `makeTemporaryDirectory`.
func removeDirectory(_ url: URL) {
    try? FileManager.default.removeItem(at: url)
}

/// The fixed wall-clock time of the tests (2027-01-15).
let testNow = Date(timeIntervalSince1970: 1_800_000_000)

/// The path of the `openssl` command, if installed.
let openSSLPath: String? = ["/usr/bin/openssl", "/usr/local/bin/openssl", "/bin/openssl"]
    .first { FileManager.default.isExecutableFile(atPath: $0) }

/// Runs `openssl` with `arguments`; returns the exit status and stdout+stderr text.
func runOpenSSL(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: openSSLPath ?? "/usr/bin/openssl")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
