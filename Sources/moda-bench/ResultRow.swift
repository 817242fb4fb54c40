/// One line of the results table: a figure over the runs of a scenario, with its goal if the
/// issue sets one (rows without a goal are context for reading the others).
struct ResultRow {
    var scenario: String
    let unit: Unit
    let samples: [Double]
    var target: Target?
    /// Shown instead of the target's own text when the goal is relative (e.g. "idle + 5").
    var targetText: String?

    var summary: Summary? { Summary(samples) }

    /// "pass", "miss", or "—" when there is no goal.
    var verdict: String {
        guard let target, let summary else { return "—" }
        return target.isMet(by: summary.median) ? "pass" : "miss"
    }
}
