import CloudSimulator
import Foundation
import OwnerAPI
import OwnerServices

/// What `serve --http` needs before the loop starts: where to listen, the identity
/// provider's key, the owner services over the VOS repository, the extra routes (the portal).
struct HTTPSetup {
    var address: HTTPListenAddress
    var tokens: TokenAuthority
    var services: OwnerServices
    var installers: [OwnerRouteInstaller]
}

/// The HTTP side of `spaak-cloud serve` on the event loop's thread: the owner services'
/// server (NIO threads) and the mailbox through which its handlers reach the VOS. The loop
/// watches `notifyFD` and calls `drain`; every job runs there, between CAN frames.
final class HTTPSide {
    let server: OwnerHTTPServer
    let mailbox: OwnerMailbox
    let context: LoopContext
    /// The bound port.
    let port: Int

    /// Starts the server (call after the event loop blocked its signals: NIO's threads
    /// inherit the mask). `execute` runs a control command on the loop and puts its frames on
    /// the bus; the pairing mode request after a delivery goes through it.
    init(_ setup: HTTPSetup, execute: @escaping (ControlCommand) -> (ok: Bool, text: String)) throws {
        mailbox = try OwnerMailbox()
        context = LoopContext(services: setup.services, control: execute)
        server = try OwnerHTTPServer(address: setup.address, context: OwnerHTTPContext(tokens: setup.tokens, mailbox: mailbox),
                                     installers: setup.installers) { line in
            print("spaak-cloud: " + line)
            fflush(nil)
        }
        // Generous: in the QEMU VM of the bus tests (an emulated CPU, other processes busy)
        // NIO's first bind and Hummingbird's start take seconds; a bind error comes at once.
        port = try server.start(timeout: .seconds(60))
    }

    /// Readable while HTTP jobs wait.
    var notifyFD: Int32 { mailbox.notifyFD }

    /// Runs the waiting HTTP jobs (a batch; the descriptor stays readable when more wait).
    func drain() { mailbox.drain(context) }

    /// The line printed once listening (before "— ready").
    var banner: String {
        "spaak-cloud: HTTP on \(server.address.url(port: port)) (OpenAPI at /openapi.yaml, portal at /portal)"
    }

    /// Lets the requests under way finish (their jobs still run here), stops the server,
    /// then fails whatever is left in the mailbox.
    func stop() {
        server.stop { mailbox.drain(context) }
        mailbox.close()
    }
}
