import Foundation
import KeyM
import TestPKI

/// KeyM: the first byte chooses the slot (and whether the installed certificates are the
/// complete test PKI or only the roots); the rest is the DER certificate checked in it.
///
/// Invariant: a certificate found valid parses again and, for an issued slot, its issuer is
/// installed.
enum KeyMFuzz {
    static let installed: KeyMInstalledCertificates = {
        var installed = KeyMInstalledCertificates()
        let pki = FuzzFixtures.pki
        let roles: [(KeyMCertificateSlot, TestPKIRole)] = [(.j, .j), (.j1, .j1), (.jPhysicalKey, .jPhysicalKey), (.z1, .z1), (.zz2, .zz2)]
        for (slot, role) in roles { installed[slot] = pki[role].der }
        return installed
    }()

    static func run(_ bytes: [UInt8]) {
        var input = FuzzReader(bytes)
        let choice = input.byte()
        let der = input.rest()
        let slots = KeyMCertificateSlot.allCases
        let slot = slots[Int(choice) % slots.count]
        var context = choice & 0x80 != 0 ? KeyMInstalledCertificates() : installed
        if choice & 0x40 != 0 { context[slot] = der }
        let result = KeyM.check(der, slot: slot, installed: context, now: ModuleBench.wallTime)
        if result.status == .valid {
            precondition((try? KeyMCertificate(der: der)) != nil, "a valid certificate does not parse")
            if let issuer = KeyM.issuerSlot(of: slot) { precondition(context[issuer] != nil, "valid without its issuer") }
        }
        if choice & 0x20 != 0 { _ = KeyM.statusBytes(context, now: ModuleBench.wallTime) }
    }
}
