// spaak-soak: the worker of the crash soak (scripts/soak; docs/RELIABILITY.md section 5).
//
//   spaak-soak run --dir D [--loops N]   provision a module on the store in D/store until killed
//   spaak-soak check --dir D             open D/store after a kill, print it, check the module answers
//   spaak-soak seeds --out fuzz          write the fuzz seed corpora and test PKI (fuzz/)
//   spaak-soak vos-fixture --out DIR --vehicles N [--unprovisioned K] [--scrypt-n 1024]
//                                        a VOS database with N provisioned vehicles (tests/api, scripts/bench api)
//   spaak-soak bench-isotp --dir D [--messages N] [--only receive|transmit]
//                                        spaak-ecu's per-frame path without a socket, for callgrind (ISOTPProfile)
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

do {
    switch arguments.first {
    case "run":
        guard let dir = option("--dir") else { throw SoakUsage() }
        try SoakWorker.run(root: URL(fileURLWithPath: dir), loops: option("--loops").flatMap { Int($0) })
    case "check":
        guard let dir = option("--dir") else { throw SoakUsage() }
        try SoakCheck.run(root: URL(fileURLWithPath: dir))
    case "seeds":
        try SeedWriter.run(out: URL(fileURLWithPath: option("--out") ?? "fuzz"))
    case "vos-fixture":
        guard let out = option("--out"), let vehicles = option("--vehicles").flatMap({ Int($0) }) else { throw SoakUsage() }
        var options = VOSFixture.Options(out: URL(fileURLWithPath: out), vehicles: vehicles)
        if let text = option("--unprovisioned") {
            guard let value = Int(text) else { throw SoakUsage() }
            options.unprovisioned = value
        }
        if let text = option("--scrypt-n") {
            guard let value = UInt32(text) else { throw SoakUsage() }
            options.scryptN = value
        }
        try VOSFixture.run(options)
    case "bench-isotp":
        guard let dir = option("--dir") else { throw SoakUsage() }
        var options = ISOTPProfile.Options(dir: URL(fileURLWithPath: dir))
        if let text = option("--messages") {
            guard let value = Int(text), value > 0 else { throw SoakUsage() }
            options.messages = value
        }
        switch option("--only") {
        case nil: break
        case "receive": options.transmit = false
        case "transmit": options.receive = false
        default: throw SoakUsage()
        }
        try ISOTPProfile.run(options)
    default:
        throw SoakUsage()
    }
} catch is SoakUsage {
    FileHandle.standardError.write(Data(("usage: spaak-soak run --dir D [--loops N] | check --dir D | seeds --out fuzz | "
                                      + "vos-fixture --out DIR --vehicles N [--unprovisioned K] [--scrypt-n 1024] | "
                                      + "bench-isotp --dir D [--messages N] [--only receive|transmit]\n").utf8))
    exit(2)
} catch {
    SoakOutput.line("ERROR \(error)".replacingOccurrences(of: "\n", with: " "))
    exit(1)
}

struct SoakUsage: Error {}
