// spaak-fuzz: the fuzz targets of SpaakFuzz as one executable.
//
// Built with `-sanitize=fuzzer -DFUZZING` (scripts/fuzz, scratch path .build-fuzz) it is a
// libFuzzer binary: `spaak-fuzz <target> [libFuzzer options] [corpus folders]`.
// Built normally it replays files: `spaak-fuzz <target> <file or folder>...` runs each
// input once (a crash input reproduces its crash) and prints how many ran.
// Either way it also has two commands:
//   spaak-fuzz bench-spake2 [--seconds S]  the module's SPAKE2+ verifier step timed (one JSON line;
//                                           scripts/bench pairing compares it with a Python peer)
//   spaak-fuzz seeds [--out fuzz]          writes the seed corpora of apdu, pairing and nfc
import Foundation
import SpaakFuzz

let arguments = CommandLine.arguments

/// The value after `name`, if given.
func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

switch arguments.count >= 2 ? arguments[1] : "" {
case "bench-spake2":
    guard let seconds = Double(option("--seconds") ?? "1"), seconds > 0, seconds <= 600 else {
        FileHandle.standardError.write(Data("spaak-fuzz bench-spake2: --seconds must be in (0, 600]\n".utf8))
        exit(2)
    }
    let result = SpakeBench.run(seconds: seconds)
    print(result.json)
    exit(result.vectorOK ? 0 : 1)
case "seeds":
    let root = URL(fileURLWithPath: option("--out") ?? "fuzz")
    do {
        try FuzzSeeds.writePairing(root: root)
        print("spaak-fuzz seeds: apdu, pairing, nfc written to \(root.path)/corpus")
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("spaak-fuzz seeds: \(error)\n".utf8))
        exit(1)
    }
default:
    break
}

guard arguments.count >= 2, let target = FuzzTarget(rawValue: arguments[1]) else {
    FileHandle.standardError.write(Data("""
        usage: spaak-fuzz <target> [libFuzzer options | files and folders to replay]
               spaak-fuzz bench-spake2 [--seconds S]
               spaak-fuzz seeds [--out fuzz]
        targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))

        """.utf8))
    exit(2)
}

#if FUZZING
nonisolated(unsafe) var selected = target

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

// libFuzzer sees argv without the target name.
var fuzzerArguments = [arguments[0]] + arguments.dropFirst(2)
var cStrings: [UnsafeMutablePointer<CChar>?] = fuzzerArguments.map { strdup($0) } + [nil]
var argc = CInt(fuzzerArguments.count)
let status = cStrings.withUnsafeMutableBufferPointer { buffer -> CInt in
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        selected.run(bytes)
        return 0
    }
}
exit(status)
#else
var files: [URL] = []
for path in arguments.dropFirst(2) {
    let url = URL(fileURLWithPath: path)
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
    if isDirectory.boolValue {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        files += names.sorted().map { url.appendingPathComponent($0) }
    } else {
        files.append(url)
    }
}
for file in files {
    guard let data = try? Data(contentsOf: file) else { continue }
    print("spaak-fuzz \(target.rawValue): \(file.lastPathComponent)")
    target.run(Array(data))
}
print("spaak-fuzz \(target.rawValue): \(files.count) inputs replayed, no crash")
#endif
