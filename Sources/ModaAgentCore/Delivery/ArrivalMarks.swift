/// When the machine learned of each stretch of queue ids, on the monotonic clock: a batch's
/// flush interval counts from when its oldest event became known, never from the wall-clock
/// `received_at` stored with it.
struct ArrivalMarks: Sendable, Equatable {
    private var marks: [(through: Int64, at: ContinuousClock.Instant)] = []

    static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.marks.elementsEqual(rhs.marks) { $0.through == $1.through && $0.at == $1.at }
    }

    /// Ids up to `through` are known from `at` on. Marks close together merge (a batch may leave
    /// up to 10 ms early), and marks already past the interval merge into one, so the list stays
    /// short through a long outage.
    mutating func record(through id: Int64, at instant: ContinuousClock.Instant, interval: Duration) {
        if let last = marks.last, last.through >= id { return }
        if let last = marks.last, instant - last.at < .milliseconds(10) {
            marks[marks.count - 1].through = id
        } else {
            marks.append((id, instant))
        }
        if let lastDue = marks.lastIndex(where: { $0.at + interval <= instant }), lastDue > 0 {
            marks.removeFirst(lastDue)
        }
    }

    /// When `id` became known; an id past every mark (added by another process) is known from
    /// now, together with everything up to `orMark`.
    mutating func learned(
        _ id: Int64,
        orMark newest: Int64,
        at instant: ContinuousClock.Instant
    ) -> ContinuousClock.Instant {
        if let mark = marks.first(where: { $0.through >= id }) { return mark.at }
        marks.append((max(id, newest), instant))
        return instant
    }

    /// When `id` became known; nil for an id past every mark.
    func knownAt(_ id: Int64) -> ContinuousClock.Instant? {
        marks.first { $0.through >= id }?.at
    }

    mutating func forget(through id: Int64) {
        marks.removeAll { $0.through <= id }
    }
}
