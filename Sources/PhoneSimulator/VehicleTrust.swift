#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KeyM

/// The device's trust in vehicles: the OEM root [J] it was given (from the PKI folder). A
/// vehicle identity certificate [K] is accepted when it chains to that [J] through the [J1]
/// that WRITE DATA carries, with the checks of KeyM (CA profiles, signatures, validity at the
/// device's date, keyUsage digitalSignature on [K]).
public struct VehicleTrust: Sendable {
    /// [J], DER.
    public let rootDER: [UInt8]
    /// [J]'s subject, for logs.
    public let rootSubject: String

    /// Trusts `rootDER`; throws unless it is a valid self-signed CA at `date`.
    public init(rootDER: [UInt8], date: Date) throws(KeyMFailure) {
        let root = try KeyM.validate(rootDER, slot: .j, installed: KeyMInstalledCertificates(), now: date)
        self.rootDER = rootDER
        self.rootSubject = "\(root.certificate.subject)"
    }

    /// Checks [K] (`vehicleCertificate`) under [J1] (`subCA`) under [J] at `date`; returns the
    /// parsed [K] or throws the first failure.
    public func check(vehicleCertificate: [UInt8], subCA: [UInt8], date: Date) throws(KeyMFailure) -> KeyMCertificate {
        var installed = KeyMInstalledCertificates(certificates: [.j: rootDER])
        _ = try KeyM.validate(subCA, slot: .j1, installed: installed, now: date)
        installed[.j1] = subCA
        // The device has no expected key for [K]: it learns the vehicle's key from [K] itself.
        installed.vehiclePublicKey = try KeyMCertificate(der: vehicleCertificate, name: "[K]").publicKey
        return try KeyM.validate(vehicleCertificate, slot: .vehicleIdentity, installed: installed, now: date)
    }
}
