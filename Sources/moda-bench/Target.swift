/// A row's goal from the issue, met by the median (or by a ceiling's ratio).
enum Target {
    case atLeast(Double)
    case atMost(Double)

    func isMet(by value: Double) -> Bool {
        switch self {
        case .atLeast(let goal): value >= goal
        case .atMost(let goal): value <= goal
        }
    }

    func text(_ unit: Unit) -> String {
        switch self {
        case .atLeast(let goal): "≥ " + unit.format(goal)
        case .atMost(let goal): "≤ " + unit.format(goal)
        }
    }
}
