import Testing

@testable import EventLoop

private struct Refused: Error, Equatable {}

@Suite("TransmitQueue")
struct TransmitQueueTests {
    @Test("sends at once while nothing is queued")
    func immediate() {
        var queue = TransmitQueue<Int>(capacity: 3)
        var wire: [Int] = []
        let sent = queue.send(1) { wire.append($0); return true }
        #expect(sent)
        #expect(queue.isEmpty && wire == [1])
    }

    @Test("keeps order: once something is queued, new elements wait behind it")
    func order() {
        var queue = TransmitQueue<Int>(capacity: 8)
        var wire: [Int] = []
        var open = false
        let sender: (Int) -> Bool = { value in
            guard open else { return false }
            wire.append(value)
            return true
        }
        let first = queue.send(1, using: sender)
        #expect(!first)
        open = true
        let second = queue.send(2, using: sender)  // 1 is still queued: no overtaking
        #expect(!second)
        #expect(wire.isEmpty)
        let flushed = queue.flush(using: sender)
        #expect(flushed == 2)
        #expect(wire == [1, 2])
        #expect(queue.isEmpty)
    }

    @Test("when full the oldest is dropped and counted")
    func dropOldest() {
        var queue = TransmitQueue<Int>(capacity: 3)
        for value in 1...7 { queue.enqueue(value) }
        #expect(queue.count == 3)
        #expect(queue.dropped == 4)
        #expect(queue.first == 5)
        var wire: [Int] = []
        queue.flush { wire.append($0); return true }
        #expect(wire == [5, 6, 7])
    }

    @Test("flush stops at the first refusal and resumes later")
    func partialFlush() {
        var queue = TransmitQueue<Int>(capacity: 5)
        for value in 1...4 { queue.enqueue(value) }
        var budget = 2
        var wire: [Int] = []
        let sender: (Int) -> Bool = { value in
            guard budget > 0 else { return false }
            budget -= 1
            wire.append(value)
            return true
        }
        let firstRound = queue.flush(using: sender)
        #expect(firstRound == 2)
        #expect(queue.count == 2)
        budget = 10
        let secondRound = queue.flush(using: sender)
        #expect(secondRound == 2)
        #expect(wire == [1, 2, 3, 4])
    }

    @Test("an element the sender throws for is discarded and counted")
    func throwing() {
        var queue = TransmitQueue<Int>(capacity: 4)
        for value in 1...3 { queue.enqueue(value) }
        var wire: [Int] = []
        do {
            try queue.flush { value in
                if value == 2 { throw Refused() }
                wire.append(value)
                return true
            }
            Issue.record("flush did not rethrow")
        } catch {
            #expect(error as? Refused == Refused())
        }
        #expect(queue.failed == 1)
        queue.flush { wire.append($0); return true }
        #expect(wire == [1, 3])
        do {
            try queue.send(9) { _ in throw Refused() }
            Issue.record("send did not rethrow")
        } catch {
            #expect(error as? Refused == Refused())
        }
        #expect(queue.isEmpty && queue.failed == 2)
    }

    @Test("capacity is at least one; removeAll empties without counting")
    func edges() {
        var queue = TransmitQueue<Int>(capacity: 0)
        #expect(queue.capacity == 1)
        queue.enqueue(1)
        queue.enqueue(2)
        #expect(queue.first == 2 && queue.dropped == 1)
        queue.removeAll()
        #expect(queue.isEmpty && queue.dropped == 1)
    }
}
