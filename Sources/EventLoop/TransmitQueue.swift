/// A bounded first-in first-out queue for writes the kernel refused for now (EAGAIN/ENOBUFS).
///
/// Order is kept: while anything is queued, new elements go behind it. When full, the
/// oldest element is dropped and counted. Typical glue for a CAN socket:
///
///     queue.send(frame) { try socket.send($0) }          // on every frame to send
///     loop.watchWritable(socket.fileDescriptor, !queue.isEmpty)
///     // on .writable(fd):
///     queue.flush { try socket.send($0) }
///     loop.watchWritable(socket.fileDescriptor, !queue.isEmpty)
public struct TransmitQueue<Element> {
    /// The most elements held; more drop the oldest.
    public let capacity: Int
    /// Elements dropped because the queue was full.
    public private(set) var dropped = 0
    /// Elements discarded because the sender threw for them.
    public private(set) var failed = 0

    private var ring: [Element?]
    private var head = 0
    /// The number of queued elements.
    public private(set) var count = 0

    /// Creates an empty queue holding at most `capacity` (at least 1) elements.
    public init(capacity: Int = 256) {
        self.capacity = Swift.max(1, capacity)
        self.ring = Array(repeating: nil, count: self.capacity)
    }

    /// `true` when nothing waits to be sent (POLLOUT is then not needed).
    public var isEmpty: Bool { count == 0 }

    /// The oldest queued element.
    public var first: Element? { count == 0 ? nil : ring[head] }

    /// Sends `element` at once through `sender` when nothing is queued, else queues it.
    /// `sender` returns `false` for "not now". Returns `true` when it was sent at once.
    /// If `sender` throws, the element is discarded (counted in `failed`) and the error
    /// propagates.
    @discardableResult
    public mutating func send(_ element: Element, using sender: (Element) throws -> Bool) rethrows -> Bool {
        if count == 0 {
            do {
                if try sender(element) { return true }
            } catch {
                failed += 1
                throw error
            }
        }
        enqueue(element)
        return false
    }

    /// Queues `element` without trying to send it, dropping the oldest when full.
    public mutating func enqueue(_ element: Element) {
        if count == capacity {
            ring[head] = nil
            head = (head + 1) % capacity
            count -= 1
            dropped += 1
        }
        ring[(head + count) % capacity] = element
        count += 1
    }

    /// Sends queued elements oldest first until `sender` answers `false` or the queue is
    /// empty; returns how many were sent. An element for which `sender` throws is discarded
    /// (counted in `failed`) and the error propagates.
    @discardableResult
    public mutating func flush(using sender: (Element) throws -> Bool) rethrows -> Int {
        var sent = 0
        while count > 0, let element = ring[head] {
            let accepted: Bool
            do {
                accepted = try sender(element)
            } catch {
                removeFirst()
                failed += 1
                throw error
            }
            guard accepted else { break }
            removeFirst()
            sent += 1
        }
        return sent
    }

    /// Discards every queued element (not counted as dropped).
    public mutating func removeAll() {
        ring = Array(repeating: nil, count: capacity)
        head = 0
        count = 0
    }

    private mutating func removeFirst() {
        ring[head] = nil
        head = (head + 1) % capacity
        count -= 1
    }
}

extension TransmitQueue: Sendable where Element: Sendable {}
