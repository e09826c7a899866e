import Crypto
import Foundation

/// The one-time token of a pairing deep link: 32 random bytes as base64url without padding
/// (43 characters). The VOS stores only its SHA-256.
public enum PairingToken {
    /// The token's length in characters.
    public static let length = 43

    /// A fresh token from 32 bytes of `randomBytes`.
    static func make(randomBytes: (Int) -> [UInt8]) -> String {
        Data(randomBytes(32)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// SHA-256 of the token's characters.
    public static func hash(_ token: String) -> [UInt8] { Array(SHA256.hash(data: Array(token.utf8))) }

    /// `true` for 43 characters of `A-Z a-z 0-9 - _`.
    public static func isWellFormed(_ token: String) -> Bool {
        token.utf8.count == length && token.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F
        }
    }

    /// `spaak://pair?vin=VIN&token=TOKEN` (both need no percent-encoding).
    public static func deepLink(vin: String, token: String) -> String { "spaak://pair?vin=\(vin)&token=\(token)" }
}
