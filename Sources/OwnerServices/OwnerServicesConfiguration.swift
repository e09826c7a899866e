#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The knobs of the owner services.
public struct OwnerServicesConfiguration: Sendable, Equatable {
    /// How long a pairing deep link stays valid (24 h).
    public var linkValidity: Duration
    /// The e-mails' sender name.
    public var mailFromName: String
    /// The e-mails' sender address.
    public var mailFromAddress: String
    /// The domain of the e-mails' Message-ID.
    public var mailDomain: String

    /// Creates a configuration; the defaults are the simulated VOS's.
    public init(linkValidity: Duration = .seconds(24 * 3600), mailFromName: String = "Vehicle OEM Server",
                mailFromAddress: String = "no-reply@vos.spaak-sim.test", mailDomain: String = "vos.spaak-sim.test") {
        self.linkValidity = linkValidity
        self.mailFromName = mailFromName
        self.mailFromAddress = mailFromAddress
        self.mailDomain = mailDomain
    }
}

/// One e-mail for the outbox: the RFC 5322 message (CRLF line ends) and a few header values.
public struct MailMessage: Sendable, Equatable {
    /// The Message-ID header's value, with its angle brackets.
    public var messageId: String
    /// The recipient's address.
    public var to: String
    /// The whole message, bytes as they go on the wire.
    public var data: [UInt8]

    /// Creates a message.
    public init(messageId: String, to: String, data: [UInt8]) {
        self.messageId = messageId
        self.to = to
        self.data = data
    }
}

/// Where the VOS's e-mails go (the simulated mail server): `MaildirOutbox`, or a test double.
/// `deliver` either keeps the message durably or throws.
public protocol MailOutbox: AnyObject {
    /// Keeps `message` for delivery; throws when it cannot.
    func deliver(_ message: MailMessage) throws
}
