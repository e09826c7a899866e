import CloudPostgres
import CloudSimulator
import EventLoop
import Foundation
import GSDP
import GSDPTransport
import Glibc
import OwnerAPI

/// The imperative shell of `spaak-cloud vos`: the GSDP server (WebSocket, NIO threads), the
/// control socket, the HTTP side (owner services), the PostgreSQL notifications, the
/// verifier pool, the event loop, the clocks, the log and the trace around one `VOSService`.
/// Everything that touches the service runs on the loop's thread: GSDP events and
/// notifications arrive through queues with a notify descriptor, HTTP jobs through the mailbox.
final class VOSRunner {
    let service: VOSService
    let gsdp: HTTPListenAddress
    let controlPath: String
    let trace: TraceWriter?
    let verifierPool: VerifierPool
    let readiness: ReadinessNotifier?
    let http: HTTPSetup?
    /// The PostgreSQL URL to LISTEN on (`nil`: SQLite, one instance, nothing to hear).
    let notificationURL: String?

    init(service: VOSService, gsdp: HTTPListenAddress, controlPath: String, trace: TraceWriter?, verifierPool: VerifierPool,
         readiness: ReadinessNotifier?, http: HTTPSetup?, notificationURL: String?) {
        self.service = service
        self.gsdp = gsdp
        self.controlPath = controlPath
        self.trace = trace
        self.verifierPool = verifierPool
        self.readiness = readiness
        self.http = http
        self.notificationURL = notificationURL
    }

    /// A notification: the serial another instance queued C2V messages for, or `nil` when the
    /// listener (re)connected (notifications may have been missed: every bound serial's
    /// outbox is read again).
    typealias Notification = String?

    func run(banner: String) throws {
        let loop = try EventLoop()
        defer { loop.close() }
        // After the loop blocked SIGINT/SIGTERM: the threads started below inherit the mask.
        verifierPool.start()
        defer { verifierPool.stop() }
        let control = try ControlServer(path: controlPath)
        defer { control.close() }
        let server = try GSDPServer(host: gsdp.host, port: gsdp.port) { line in
            print("spaak-cloud vos: \(line)")
            fflush(nil)
        }
        // Generous, as for HTTP: NIO's first bind takes seconds in the QEMU VM.
        let gsdpPort = try server.start(timeout: .seconds(60))
        defer { server.stop() }
        let notifications = try GSDPEventQueue<Notification>()
        let listener = try notificationURL.map { url in
            try PostgresNotificationListener(url: url, onListening: { notifications.post(nil) }) { serial in
                notifications.post(serial)
            }
        }
        listener?.start()
        defer { listener?.stop() }

        func perform(_ step: VOSService.Step) {
            for event in step.events { log(event) }
            for action in step.actions {
                switch action {
                case .send(let id, let bytes): server.send(id, binary: bytes)
                case .sendText(let id, let text): server.send(id, text: text)
                case .close(let id, let reason): server.close(id, reason: reason)
                }
            }
        }

        /// A control command (from the socket or an HTTP job) on the loop.
        func execute(_ command: ControlCommand) -> (ok: Bool, text: String) {
            let (answer, step) = service.control(command, now: loop.clock.now, date: Date(), readFile: CloudRunner.readFile)
            perform(step)
            return (answer.ok, answer.text)
        }

        /// One GSDP event: control text decoded (malformed text logged and ignored), binary to the VOS.
        func handle(_ event: GSDPServer.Event) {
            let now = loop.clock.now
            switch event {
            case .opened(let id):
                print("spaak-cloud vos: connection \(id) opened")
            case .binary(let id, let bytes):
                perform(service.received(bytes, from: id, now: now, date: Date()))
            case .text(let id, let text):
                switch Result(catching: { try GSDPControlMessage.decode(text) }) {
                case .success(.hello(let hello)):
                    perform(service.connected(id, hello: .init(tbm: hello.tbm, serials: hello.serials), now: now, date: Date()))
                case .success(.c2vAck(let ack)):
                    let outcome: VOSService.C2VOutcome
                    switch ack.outcome {
                    case .delivered: outcome = .delivered
                    case .notSent(let reason): outcome = .notSent(reason: reason)
                    }
                    perform(service.c2vOutcome(ack.sha256, outcome, from: id, now: now, date: Date()))
                case .success(.welcome):
                    print("spaak-cloud vos: connection \(id): a welcome from a TBM: ignored")
                case .failure(let error):
                    print("spaak-cloud vos: connection \(id): GSDP text ignored (\(error)): \(text.prefix(120))")
                }
            case .closed(let id):
                perform(service.disconnected(id, now: now))
            }
        }

        loop.watch(control.listenFD)
        loop.watch(server.events.notifyFD)
        loop.watch(notifications.notifyFD)
        if verifierPool.notifyFD >= 0 { loop.watch(verifierPool.notifyFD) }
        let httpSide = try http.map { try HTTPSide($0, execute: execute) }
        print("spaak-cloud vos: GSDP on \(server.url(port: gsdpPort))")
        if let httpSide {
            loop.watch(httpSide.notifyFD)
            print(httpSide.banner)
        }
        print("\(banner) — ready")
        fflush(nil)
        do { try readiness?.notifyReady() } catch { print("spaak-cloud vos: \(error)") }
        loop.arm(service.nextDeadline)
        let exit = try loop.run { event in
            switch event {
            case .readable(let fd) where fd == server.events.notifyFD:
                for gsdpEvent in server.events.take() { handle(gsdpEvent) }
            case .readable(let fd) where fd == notifications.notifyFD:
                var serials: [String] = []
                for notification in notifications.take() {
                    serials += notification.map { [$0] } ?? service.boundSerials.sorted()
                }
                var seen = Set<String>()
                for serial in serials where seen.insert(serial).inserted {
                    perform(service.notified(serial, now: loop.clock.now, date: Date()))
                }
            case .readable(let fd) where fd == httpSide?.notifyFD:
                httpSide?.drain()
            case .readable(let fd) where fd == self.verifierPool.notifyFD:
                self.verifierPool.drainNotifications()
                perform(service.verifiersReady(now: loop.clock.now, date: Date()))
            case .readable(let fd) where fd == control.listenFD:
                for client in control.acceptAll() { loop.watch(client) }
            case .readable(let fd):
                guard let line = control.read(fd) else { break }
                loop.unwatch(fd)
                let reply: String
                do {
                    let answer = execute(try ControlCommand.parse(line))
                    reply = CloudSimulator.Reply(ok: answer.ok, text: answer.text).description
                } catch {
                    reply = "error \(error)"
                }
                control.finish(fd, reply: reply)
            case .timer(let now):
                perform(service.handleTimeout(now: now, date: Date()))
            case .writable, .signal:
                break
            }
            loop.arm(service.nextDeadline)
        }
        if let httpSide {
            httpSide.stop()
            loop.unwatch(httpSide.notifyFD)
        }
        print("spaak-cloud vos: \(service.statsLine(now: loop.clock.now))")
        if case .signal(let signo) = exit { print("spaak-cloud vos: stopped by signal \(signo)") }
    }

    private func log(_ event: CloudEvent) {
        print(event.description)
        fflush(nil)
        trace?.write(event)
    }
}
