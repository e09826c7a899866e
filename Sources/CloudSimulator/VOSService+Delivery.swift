import CloudProtocol
import Foundation
import SpaakCore

/// The V2C path and the outbox's delivery: answers on their connection, pushes from the
/// outbox to the connection their serial is bound to, acks and retries.
extension VOSService {
    /// Handles one V2C message from connection `id`: answers go back on it; the serial that
    /// authenticated is bound to it (and gets its outbox).
    func handleV2C(_ bytes: [UInt8], from id: GSDPConnectionID, now: Instant, date: Date, into step: inout Step) {
        let result = vos.handleV2C(bytes, date: date)
        append(result.events, now: now, into: &step)
        let request = result.events.first { $0.direction == "V2C" && $0.from == .spaak }
        if !result.transmissions.isEmpty { counters.answered += 1 }
        if request?.outcome == .refused || request == nil { counters.refused += 1 }
        for transmission in result.transmissions {
            if let delay = transmission.delay {
                delayed.append((now + delay, id, transmission.bytes, transmission.event))
            } else {
                sendAnswer(transmission.bytes, event: transmission.event, on: id, now: now, into: &step)
            }
        }
        // Authenticated: answered, or accepted without an answer (a `drop` fault).
        guard let serial = request?.serial, !result.transmissions.isEmpty || request?.outcome == .accepted else { return }
        pushesAnswered(by: bytes, now: now, into: &step)
        if bindings[serial] != id {
            bind(serial, to: id, now: now, date: date, into: &step)
        }
    }

    /// The authenticated V2C `bytes` answer the pushes of this instance that `PushAnswer`
    /// matches: they are done (`VehicleOEMServer` deleted their rows in its transaction).
    func pushesAnswered(by bytes: [UInt8], now: Instant, into step: inout Step) {
        guard let message = PushAnswer.candidate(bytes) else { return }
        flights.removeAll { flight in
            guard flight.answer?.isAnswered(by: message) == true else { return false }
            append([pushInfo(flight.event, PushAnswer.Trace.done(message, sends: flight.attempts))], now: now, into: &step)
            return true
        }
    }

    /// Whether the push of `flight`, delivered but not answered here, is still in the outbox
    /// with a send left; a row that another instance saw answered, or one out of sends, is
    /// done (the latter deleted, "given up").
    func unanswered(_ flight: Flight, now: Instant, into step: inout Step) -> Bool {
        do {
            let rows = try vos.repository.transaction { try $0.pendingC2V(serial: flight.serial) }
            guard rows.contains(where: { $0.id == flight.outboxID }) else {
                append([pushInfo(flight.event, "answered (the row left the outbox): done")], now: now, into: &step)
                return false
            }
        } catch {
            info("outbox of \(flight.serial) not read: \(error); the push is sent again", serial: flight.serial, now: now, into: &step)
        }
        guard flight.attempts <= Self.pushRetries else {
            append([pushInfo(flight.event, PushAnswer.Trace.givenUp(sends: flight.attempts))], now: now, into: &step)
            deleteRow(flight, now: now, into: &step)
            return false
        }
        append([pushInfo(flight.event, PushAnswer.Trace.noAnswer(Self.pushAnswerTimeout))], now: now, into: &step)
        return true
    }

    /// Sends an answer on `id` and remembers it for the TBM's ack.
    func sendAnswer(_ bytes: [UInt8], event: CloudEvent, on id: GSDPConnectionID, now: Instant, into step: inout Step) {
        guard connections[id] != nil else { return }
        answersInTransit[id, default: [:]][Self.digest(bytes)] = event
        step.actions.append(.send(id, bytes))
    }

    /// Binds `serial` to connection `id` (the newest binding wins) and sends its outbox.
    func bind(_ serial: String, to id: GSDPConnectionID, now: Instant, date: Date, into step: inout Step) {
        if let old = bindings[serial], old != id {
            connections[old]?.serials.remove(serial)
            // Un-acked pushes of the old connection go out again on the new one.
            flights.removeAll { $0.connection == old && $0.serial == serial }
        }
        bindings[serial] = id
        connections[id]?.serials.insert(serial)
        info("\(serial) bound to connection \(id) (TBM \(connections[id]?.tbm ?? "-"))", serial: serial, now: now, into: &step)
        deliverOutbox(serial, on: id, now: now, date: date, into: &step)
    }

    /// Sends the outbox rows of `serial` not yet in flight, oldest first, on `id`.
    func deliverOutbox(_ serial: String, on id: GSDPConnectionID, now: Instant, date: Date, into step: inout Step) {
        let rows: [C2VOutboxRecord]
        do {
            rows = try vos.repository.transaction { try $0.pendingC2V(serial: serial) }
        } catch {
            info("outbox of \(serial) not read: \(error)", serial: serial, now: now, into: &step)
            return
        }
        for row in rows {
            guard let rowID = row.id, !flights.contains(where: { $0.outboxID == rowID }) else { continue }
            let event = Self.describe(row.bytes, serial: serial)
            flights.append(Flight(outboxID: rowID, serial: serial, connection: id, bytes: row.bytes,
                                  digest: Self.digest(row.bytes), event: event, answer: PushAnswer(push: row.bytes)))
            append([pushInfo(event, "sent from the outbox on connection \(id)")], now: now, into: &step)
            step.actions.append(.send(id, row.bytes))
        }
    }

    /// The TBM acked the push of `flights[index]`.
    func pushAcknowledged(at index: Int, _ outcome: C2VOutcome, now: Instant, into step: inout Step) {
        let flight = flights[index]
        append([transit(flight.event, outcome)], now: now, into: &step)
        switch outcome {
        case .delivered:
            counters.outboxSent += 1
            guard flight.answer != nil else {
                flights.remove(at: index)
                deleteRow(flight, now: now, into: &step)
                return
            }
            flights[index].awaitingAnswer = true
            flights[index].due = now + Self.pushAnswerTimeout
        case .notSent:
            guard flight.attempts <= Self.pushRetries else {
                flights.remove(at: index)
                append([pushInfo(flight.event, "push given up after \(flight.attempts) attempts")], now: now, into: &step)
                deleteRow(flight, now: now, into: &step)
                return
            }
            flights[index].due = now + Self.pushRetryDelay
            append([pushInfo(flight.event, "retry \(flight.attempts)/\(Self.pushRetries) in \(Int(Self.pushRetryDelay.milliseconds / 1000)) s")],
                   now: now, into: &step)
        }
    }

    private func deleteRow(_ flight: Flight, now: Instant, into step: inout Step) {
        do {
            try vos.repository.transaction { try $0.deleteC2V(id: flight.outboxID) }
        } catch {
            info("outbox row \(flight.outboxID) of \(flight.serial) not deleted: \(error)", serial: flight.serial, now: now, into: &step)
        }
    }

    /// The `delivered` / `not-sent` event of a C2V message described by `event`.
    func transit(_ event: CloudEvent, _ outcome: C2VOutcome) -> CloudEvent {
        var event = event
        event.from = .tbm
        event.to = .spaak
        switch outcome {
        case .delivered:
            event.outcome = .delivered
            event.detail = nil
        case .notSent(let reason):
            event.outcome = .notSent
            event.detail = reason
        }
        return event
    }

    /// A trace line about a push, with its type and serial.
    func pushInfo(_ event: CloudEvent, _ detail: String) -> CloudEvent {
        var event = event
        event.from = .vos
        event.to = .spaak
        event.outcome = .info
        event.detail = detail
        return event
    }

    /// The `queued` event of a C2V message read back from the outbox (any instance wrote it).
    static func describe(_ bytes: [UInt8], serial: String) -> CloudEvent {
        guard let message = try? CloudMessageCodec.decode(bytes).message else {
            return CloudEvent(from: .vos, to: .spaak, outcome: .queued, direction: "C2V",
                              type: CloudMessageCodec.peekRawMessageType(bytes), serial: serial)
        }
        return VehicleOEMServer.event(for: message, from: message.type == .ownerKeyTermination ? .kts : .vos, to: .spaak,
                                      outcome: .queued)
    }

    /// Counts a push made by `result` (already in the outbox) and sends it when `serial` is
    /// bound here; returns where it stands, for the reply.
    func queuePush(_ result: VOSResult, serial: String, now: Instant, date: Date, into step: inout Step) throws -> String {
        // The outbox rows carry the messages; the `queued` events of the push are replaced by
        // the outbox's when it is sent.
        append(result.events.filter { $0.outcome != .queued }, now: now, into: &step)
        guard !result.transmissions.isEmpty else { return "not queued (fault drop)" }
        counters.pushes += result.transmissions.count
        append(result.events.filter { $0.outcome == .queued }.map {
            var event = $0
            event.detail = [event.detail, "in the outbox"].compactMap { $0 }.joined(separator: "; ")
            return event
        }, now: now, into: &step)
        if let id = bindings[serial] {
            deliverOutbox(serial, on: id, now: now, date: date, into: &step)
            return "queued for \(serial) (connected here)"
        }
        return "queued for \(serial) (connected to another instance or not connected: delivered when it connects)"
    }
}
