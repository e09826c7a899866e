import Crypto

/// GSDP: the publish/subscribe link between a vehicle's TBM and the Vehicle OEM Server,
/// here a WebSocket at `path` (plain `ws://` on loopback; a real deployment has mutual TLS).
/// A binary message carries exactly one ICD section 7 message, unchanged; a text message
/// carries a `GSDPControlMessage`.
public enum GSDP {
    /// The WebSocket path of the VOS's GSDP endpoint.
    public static let path = "/gsdp/v1/spaak"

    /// WebSocket ping period of both ends.
    public static let pingInterval: Duration = .seconds(5)
    /// A connection without a pong for this long is closed (both ends).
    public static let pongTimeout: Duration = .seconds(15)

    /// The SHA-256 of `bytes`, lowercase hex (64 characters): how a C2V ack names its message.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in SHA256.hash(data: bytes) {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `true` when `text` is 64 lowercase hex digits.
    public static func isSHA256Hex(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}
