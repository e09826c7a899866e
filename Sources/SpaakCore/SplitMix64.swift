/// SplitMix64 (Steele, Lea, Flood 2014): a small seeded pseudo-random generator, so that
/// tests, fuzz runs and the provisioning machine's transaction ids can be reproduced.
/// Not for secrets: keys and seeds come from the system's generator.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The generator's state; the next value is derived from it.
    public var state: UInt64

    /// A generator that starts at `state`.
    public init(state: UInt64) { self.state = state }

    /// A generator seeded with `seed` (the same as `init(state:)`).
    public init(seed: UInt64) { self.state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
