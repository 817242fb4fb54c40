/// Exponential backoff with jitter, as pure functions of the attempt number and a random draw
/// (docs/operating.md, "Delivery": start at `retryInitialSeconds`, double up to `retryMaxSeconds`, jitter never above
/// the doubled value nor below half of it). The caller owns the attempt count and the clock.
public struct Backoff: Sendable, Equatable {
    /// Seconds before the first retry.
    public var initial: Double
    /// Seconds no delay exceeds, `Retry-After` included.
    public var maximum: Double

    public init(initial: Double, maximum: Double) {
        self.initial = initial
        self.maximum = maximum
    }

    /// Nominal delay before retry number `attempt` (1-based): initial·2^(attempt-1), capped at
    /// `maximum`. Attempts below 1 count as 1.
    public func nominal(attempt: Int) -> Double {
        guard initial > 0, maximum > 0 else { return 0 }
        // 2^1100 is infinite as a Double, and min(∞, maximum) is maximum: clamping the exponent
        // keeps huge attempt numbers exact without an integer shift that could overflow.
        let exponent = Double(min(max(attempt, 1) - 1, 1100))
        return min(initial * pow2(exponent), maximum)
    }

    /// Jittered delay in [nominal/2, nominal]; `unit` in [0, 1] is the random draw (clamped).
    public func delay(attempt: Int, unit: Double) -> Double {
        let nominal = nominal(attempt: attempt)
        let draw = unit.isNaN ? 0 : min(max(unit, 0), 1)
        return nominal / 2 + nominal / 2 * draw
    }

    /// The server's `Retry-After` (seconds) wins when present, capped at `maximum`; otherwise the
    /// jittered delay.
    public func delay(attempt: Int, retryAfter: Double?, unit: Double) -> Double {
        if let retryAfter, retryAfter.isFinite, retryAfter >= 0 {
            return min(retryAfter, max(maximum, 0))
        }
        return delay(attempt: attempt, unit: unit)
    }

    public func delay(attempt: Int, retryAfter: Double?, using generator: inout some RandomNumberGenerator) -> Double {
        delay(attempt: attempt, retryAfter: retryAfter, unit: Double.random(in: 0...1, using: &generator))
    }

    /// 2^exponent for a non-negative whole exponent, without Foundation.
    private func pow2(_ exponent: Double) -> Double {
        Double(sign: .plus, exponent: Int(exponent), significand: 1)
    }
}
