#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import E2E

/// The head unit's alive counter for `HU_Request` (ICD 8.1), kept between two calls of
/// `spaak-phone hu-start` as text (the last counter sent, `0`…`14`): the module discards a
/// request that repeats the counter of the previous one.
public enum HUCounter {
    /// The counter in a state file's text; `nil` for anything but one number 0…14.
    public static func parse(_ text: String) -> UInt8? {
        let trimmed = text.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed()
        guard let value = UInt8(String(trimmed)), value <= E2EProfile.maxCounter else {
            return nil
        }
        return value
    }

    /// The state file's text for `counter`.
    public static func text(_ counter: UInt8) -> String { "\(counter)\n" }

    /// The counter after `previous`; without one, a counter from `date` (tenths of a second
    /// modulo 15), so that first calls rarely repeat what the module saw last.
    public static func next(after previous: UInt8?, date: Date) -> UInt8 {
        if let previous { return E2EProfile.nextCounter(after: previous) }
        let tenths = UInt64(max(0, date.timeIntervalSince1970) * 10)
        return UInt8(tenths % UInt64(E2EProfile.counterModulus))
    }
}
