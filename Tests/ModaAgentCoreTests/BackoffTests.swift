import ModaAgentTestSupport
import Testing

@testable import ModaAgentCore

@Suite struct BackoffTests {
    let backoff = Backoff(initial: 1, maximum: 30)

    @Test func nominalDoublesUpToTheCap() {
        let delays = (1...9).map { backoff.nominal(attempt: $0) }
        #expect(delays == [1, 2, 4, 8, 16, 30, 30, 30, 30])
    }

    @Test func attemptsBelowOneCountAsTheFirst() {
        #expect(backoff.nominal(attempt: 0) == 1)
        #expect(backoff.nominal(attempt: -5) == 1)
    }

    @Test(arguments: [64, 65, 1023, 1024, 1_000_000, Int.max])
    func hugeAttemptsStayAtTheCap(attempt: Int) {
        #expect(backoff.nominal(attempt: attempt) == 30)
        #expect(backoff.delay(attempt: attempt, unit: 1) == 30)
        #expect(backoff.delay(attempt: attempt, unit: 0) == 15)
    }

    @Test func fractionalSettings() {
        let fast = Backoff(initial: 0.25, maximum: 1.5)
        #expect((1...5).map { fast.nominal(attempt: $0) } == [0.25, 0.5, 1, 1.5, 1.5])
    }

    @Test func aMaximumBelowTheInitialDelayStillCaps() {
        #expect(Backoff(initial: 10, maximum: 3).nominal(attempt: 1) == 3)
    }

    @Test func zeroSettingsMeanNoWait() {
        #expect(Backoff(initial: 0, maximum: 30).delay(attempt: 5, unit: 1) == 0)
        #expect(Backoff(initial: 1, maximum: 0).delay(attempt: 5, unit: 1) == 0)
    }

    @Test(arguments: 1...8)
    func jitterSpansHalfToFullNominal(attempt: Int) {
        let nominal = backoff.nominal(attempt: attempt)
        #expect(backoff.delay(attempt: attempt, unit: 0) == nominal / 2)
        #expect(backoff.delay(attempt: attempt, unit: 1) == nominal)
        #expect(backoff.delay(attempt: attempt, unit: 0.5) == nominal * 0.75)
    }

    @Test(arguments: [-1.0, 2.0, Double.nan, -Double.infinity, Double.infinity])
    func outOfRangeDrawsAreClamped(unit: Double) {
        let delay = backoff.delay(attempt: 3, unit: unit)
        #expect(delay >= 2 && delay <= 4)
    }

    @Test func retryAfterWinsAndIsCapped() {
        #expect(backoff.delay(attempt: 1, retryAfter: 7, unit: 0) == 7)
        #expect(backoff.delay(attempt: 6, retryAfter: 2.5, unit: 1) == 2.5)
        #expect(backoff.delay(attempt: 1, retryAfter: 0, unit: 1) == 0)
        #expect(backoff.delay(attempt: 1, retryAfter: 120, unit: 0) == 30)
        #expect(backoff.delay(attempt: 1, retryAfter: 1e300, unit: 0) == 30)
    }

    @Test func unusableRetryAfterFallsBackToBackoff() {
        #expect(backoff.delay(attempt: 3, retryAfter: nil, unit: 1) == 4)
        #expect(backoff.delay(attempt: 3, retryAfter: -1, unit: 1) == 4)
        #expect(backoff.delay(attempt: 3, retryAfter: .nan, unit: 0) == 2)
        #expect(backoff.delay(attempt: 3, retryAfter: .infinity, unit: 0) == 2)
    }

    @Test func seededGeneratorStaysWithinBounds() {
        var generator = SeededGenerator(seed: 0x5EED)
        var lowest = Double.infinity
        var highest = -Double.infinity
        for draw in 0..<10_000 {
            let attempt = draw % 12 + 1
            let nominal = backoff.nominal(attempt: attempt)
            let delay = backoff.delay(attempt: attempt, retryAfter: nil, using: &generator)
            #expect(delay >= nominal / 2 && delay <= nominal && delay <= backoff.maximum)
            if attempt >= 6 {
                lowest = min(lowest, delay)
                highest = max(highest, delay)
            }
        }
        // The draws really spread over the band rather than sticking to one end.
        #expect(lowest < 16)
        #expect(highest > 29)
    }

    @Test func generatorIsIgnoredWhenRetryAfterIsPresent() {
        var generator = SeededGenerator(seed: 1)
        #expect(backoff.delay(attempt: 4, retryAfter: 3, using: &generator) == 3)
    }
}
