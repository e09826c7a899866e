import CanSM
import SpaakCore

extension CANTransmitter {
    /// Copies the transmitter's counters into the DID 0xD130 record (refused writes,
    /// `SPAAK_Status` late and skipped); the controller's fields are CanSM's.
    public func diagnostics(into record: inout CANBusDiagnostics) {
        record.refusedWrites = counters.refusedWrites
        record.statusLate = counters.statusLate
        record.statusSkipped = counters.statusSkipped
    }

    /// The key of a cyclic frame's identifier (standard and extended kept apart).
    static func key(_ frame: CANFrame) -> UInt64 { UInt64(frame.id) | (frame.isExtended ? 1 << 32 : 0) }

    /// Puts `frame` at the end of the queue, or in the place of a queued older frame of the
    /// same cyclic identifier; a full queue drops its oldest frame first.
    mutating func enqueue(_ frame: CANFrame) {
        let cyclic = cyclicIDs.contains(frame.id)
        if cyclic, let queued = cyclicQueued[Self.key(frame)] {
            storage[queued.sequence - base] = frame
            counters.statusSkipped += 1
            return
        }
        if count == capacity { dropOldest() }
        if cyclic { cyclicQueued[Self.key(frame)] = (base + storage.count, false) }
        storage.append(frame)
    }

    /// Writes the queue until it is empty or the kernel stops taking frames.
    mutating func flush(now: Instant, send: Send) throws {
        while count > 0 {
            let outcome = try send(storage[head...])
            let taken = Swift.min(Swift.max(0, outcome.sent), count)
            removeFirst(taken, sent: true)
            // Nothing taken and no reason given (not what CANSocket does): retry after a
            // pause rather than ask again at once.
            let stop = outcome.stop ?? (taken == 0 && count > 0 ? .deviceQueueFull : nil)
            switch stop {
            case nil:
                continue
            case .socketBufferFull?:
                counters.refusedWrites += 1
                blocked = .socketBufferFull
                return
            case .deviceQueueFull?:
                counters.refusedWrites += 1
                counters.deviceQueueFull += 1
                // A retry that moved too few frames: wait longer, so that a wake moves several.
                if backingOff && taken < retryPolicy.fewFrames { pause = Swift.min(pause * 2, retryPolicy.maximum) }
                backingOff = true
                blocked = .deviceQueueFull(retryAt: now + pause)
                return
            case .unsendable(let reason)?:
                guard count > 0 else { return }
                lastUnsendable = (storage[head], reason)
                counters.unsendable += 1
                removeFirst(1, sent: false)
            }
        }
        // Drained: the next ENOBUFS spell starts with the shortest pause.
        pause = retryPolicy.initial
        backingOff = false
        blocked = .none
    }

    /// Removes the `n` oldest frames: sent by the kernel, or dropped as unsendable.
    private mutating func removeFirst(_ n: Int, sent: Bool) {
        guard n > 0 else { return }
        let end = base + head + n
        if !cyclicQueued.isEmpty {
            for (key, queued) in cyclicQueued where queued.sequence < end {
                if sent && queued.late { counters.statusLate += 1 }
                cyclicQueued[key] = nil
            }
        }
        if sent { counters.sent += n }
        head += n
        compact()
    }

    /// Drops the oldest frame of a full queue (counted; a cyclic one also as skipped).
    private mutating func dropOldest() {
        let oldest = base + head
        if let key = cyclicQueued.first(where: { $0.value.sequence == oldest })?.key {
            cyclicQueued[key] = nil
            counters.statusSkipped += 1
        }
        counters.dropped += 1
        head += 1
        compact()
    }

    /// Gives back the space of removed frames once they are at least half the storage.
    private mutating func compact() {
        if head == storage.count {
            base += storage.count
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= storage.count {
            storage.removeFirst(head)
            base += head
            head = 0
        }
    }
}
