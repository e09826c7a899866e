import Crypto
import SwiftASN1

/// The phone's state file (`spaak-phone --key FILE`): PEM text with the endpoint key pair as
/// a PKCS#8 `PRIVATE KEY` block and, once a phase 2 completed, the vehicle identity
/// certificate [K] of the paired vehicle as a `CERTIFICATE` block (phase 3 verifies the
/// vehicle's AUTH1 signature with its key). Parsing and encoding only; the shell reads and
/// writes the file (mode 0600).
public struct PhoneKeyFile: Sendable {
    /// The endpoint key pair.
    public var endpointKey: P256.Signing.PrivateKey
    /// [K], DER, of the vehicle paired in phase 2.
    public var vehicleCertificate: [UInt8]?

    /// Creates the contents.
    public init(endpointKey: P256.Signing.PrivateKey, vehicleCertificate: [UInt8]? = nil) {
        self.endpointKey = endpointKey
        self.vehicleCertificate = vehicleCertificate
    }

    /// Parses the file's text: exactly one private key, at most one certificate, nothing else.
    public init(pem text: String) throws(PhoneKeyFileError) {
        let documents: [PEMDocument]
        do {
            documents = try PEMDocument.parseMultiple(pemString: text)
        } catch {
            throw .malformed("not PEM: \(error)")
        }
        var key: P256.Signing.PrivateKey?
        var certificate: [UInt8]?
        for document in documents {
            switch document.discriminator {
            case "PRIVATE KEY", "EC PRIVATE KEY":
                guard key == nil else { throw .malformed("two private keys") }
                do {
                    key = try P256.Signing.PrivateKey(pemRepresentation: document.pemString)
                } catch {
                    throw .malformed("the private key is not a P-256 key: \(error)")
                }
            case "CERTIFICATE":
                guard certificate == nil else { throw .malformed("two certificates") }
                certificate = document.derBytes
            default:
                throw .malformed("unexpected PEM block \(document.discriminator)")
            }
        }
        guard let key else { throw .malformed("no PRIVATE KEY block") }
        self.init(endpointKey: key, vehicleCertificate: certificate)
    }

    /// The file's text.
    public var pem: String {
        var text = endpointKey.pemRepresentation + "\n"
        if let vehicleCertificate {
            text += PEMDocument(type: "CERTIFICATE", derBytes: vehicleCertificate).pemString + "\n"
        }
        return text
    }
}

/// Why a phone state file cannot be used.
public enum PhoneKeyFileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The text is not what `PhoneKeyFile` writes.
    case malformed(String)

    public var description: String {
        switch self {
        case .malformed(let why): return why
        }
    }
}
