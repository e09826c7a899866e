import Dispatch
import Foundation
import Glibc
import Hummingbird
import OwnerServices
import ServiceLifecycle
import Synchronization

/// Adds routes to the server (e.g. the portal's pages); runs once, before it starts.
public typealias OwnerRouteInstaller = @Sendable (Router<BasicRequestContext>, OwnerHTTPContext) -> Void

/// Why the HTTP server did not start.
public struct OwnerHTTPServerError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var description: String

    init(_ description: String) { self.description = description }
}

/// The owner services' HTTP server (the TBE): Hummingbird 2 on a loopback address, serving
/// `/health`, `/openapi.yaml` (the contract, from the target's resources), the `/v1`
/// routes (`OwnerRoutes`) and whatever the installers add (the portal).
///
/// It runs on NIO's threads in a task of its own, in a service group that handles no
/// signal: the event loop owns SIGINT/SIGTERM (signalfd), so start this server after the
/// loop has blocked those signals (its threads inherit the mask), and `stop` it when the
/// loop ends. Handlers reach the VOS only through the context's mailbox, which the event
/// loop drains.
public final class OwnerHTTPServer: Sendable {
    /// Where it listens.
    public let address: HTTPListenAddress
    /// What the routes work with.
    public let context: OwnerHTTPContext
    private let installers: [OwnerRouteInstaller]
    private let log: @Sendable (String) -> Void
    private let openAPIDocument: String
    private let running = Mutex<(task: Task<Void, Never>, group: ServiceGroup)?>(nil)
    private let finished = DispatchSemaphore(value: 0)

    /// A server for `address`; `log` gets one line per request (and internal errors).
    /// - Throws: `OwnerHTTPServerError` when the OpenAPI document is not in the resources.
    public init(address: HTTPListenAddress, context: OwnerHTTPContext, installers: [OwnerRouteInstaller] = [],
                log: @escaping @Sendable (String) -> Void) throws(OwnerHTTPServerError) {
        guard HTTPListenAddress.isLoopback(address.host) else {
            throw OwnerHTTPServerError("'\(address.host)' is not a loopback address")
        }
        self.address = address
        self.context = context
        self.installers = installers
        self.log = log
        self.openAPIDocument = try Self.bundledOpenAPIDocument()
    }

    /// The OpenAPI document shipped in the target's resources.
    public static func bundledOpenAPIDocument() throws(OwnerHTTPServerError) -> String {
        guard let url = Bundle.module.url(forResource: "Resources", withExtension: nil)?.appendingPathComponent("openapi.yaml"),
              let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw OwnerHTTPServerError("the OwnerAPI resources have no openapi.yaml")
        }
        return text
    }

    /// The customer portal (`PortalRoutes`, `/portal`) as an installer, its templates loaded now.
    /// - Throws: `OwnerHTTPServerError` when a template is missing or does not parse.
    public static func portal() throws(OwnerHTTPServerError) -> OwnerRouteInstaller {
        let renderer: PortalRenderer
        do {
            renderer = try PortalRenderer.bundled()
        } catch {
            throw OwnerHTTPServerError(error.description)
        }
        return { router, http in
            PortalRoutes(mailbox: http.mailbox, services: { $0.services }, tokens: http.tokens, renderer: renderer).install(on: router)
        }
    }

    /// The router: the middleware first (it then wraps every route and the "not found"), the
    /// service routes, the `/v1` routes, the installers' routes.
    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self, options: [.autoGenerateHeadEndpoints])
        let routes = RouteTable()
        router.add(middleware: OwnerHTTPMiddleware(routes: routes, log: log))
        router.get("health") { _, _ in try OwnerResponses.json(["status": "ok"]) }
        let document = openAPIDocument
        router.get("openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: document)))
        }
        OwnerRoutes.install(on: router, context: context)
        for install in installers { install(router, context) }
        // HEAD is answered for every GET (autoGenerateHeadEndpoints, added when the responder is built).
        routes.set(router.routes.flatMap { route in
            (route.method == .get ? ["GET", "HEAD"] : [route.method.rawValue]).map { (method: $0, path: route.path) }
        })
        return router
    }

    /// Starts listening and returns the bound port once the server accepts connections
    /// (blocks the calling thread up to `timeout`).
    /// - Throws: `OwnerHTTPServerError` when it cannot bind or does not start in time.
    public func start(timeout: Duration = .seconds(10)) throws(OwnerHTTPServerError) -> Int {
        let outcome = Mutex<Result<Int, OwnerHTTPServerError>?>(nil)
        let started = DispatchSemaphore(value: 0)
        var application = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: "spaak-vos"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? -1
                outcome.withLock { $0 = port > 0 ? .success(port) : .failure(OwnerHTTPServerError("the server's port is unknown")) }
                started.signal()
            })
        application.logger.logLevel = .warning
        let group = ServiceGroup(configuration: .init(services: [application], logger: application.logger))
        let address = self.address
        let finished = self.finished
        let task = Task.detached {
            do {
                try await group.run()
            } catch {
                let failed = outcome.withLock { state -> Bool in
                    guard state == nil else { return false }
                    state = .failure(OwnerHTTPServerError("cannot listen on \(address): \(error)"))
                    return true
                }
                if failed { started.signal() }
            }
            finished.signal()
        }
        running.withLock { $0 = (task, group) }
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        guard started.wait(timeout: .now() + seconds) == .success else {
            task.cancel()
            throw OwnerHTTPServerError("the HTTP server did not start within \(timeout)")
        }
        switch outcome.withLock({ $0 }) {
        case .success(let port)?: return port
        case .failure(let error)?: throw error
        case nil: throw OwnerHTTPServerError("the HTTP server did not start")
        }
    }

    /// Stops the server gracefully: it stops accepting, closes idle connections and lets the
    /// requests under way finish (up to `grace`; `drain` runs their mailbox jobs meanwhile,
    /// so call this on the loop thread with a `drain` of the loop's context); after `grace`
    /// the server is cancelled (its connections close) and awaited up to 3 s more.
    public func stop(grace: Duration = .seconds(5), drain: () -> Void) {
        guard let (task, group) = running.withLock({ state in defer { state = nil }; return state }) else { return }
        Task.detached { await group.triggerGracefulShutdown() }
        let deadline = ContinuousClock.now + grace
        var watch = [pollfd(fd: context.mailbox.notifyFD, events: Int16(POLLIN), revents: 0)]
        var done = false
        while !done && ContinuousClock.now < deadline {
            if poll(&watch, 1, 20) > 0 { drain() }
            done = finished.wait(timeout: .now()) == .success
        }
        if !done {
            task.cancel()
            _ = finished.wait(timeout: .now() + 3)
        }
    }
}
