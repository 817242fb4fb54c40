/// Prints the results as a Markdown table (it pastes into the README as it is): scenario, unit,
/// median, min, max, target, pass/miss, with the runs each figure is over.
enum ResultTable {
    static func render(_ rows: [ResultRow]) -> String {
        let header = ["scenario", "unit", "median", "min", "max", "runs", "target", "result"]
        var table: [[String]] = [header]
        for row in rows {
            guard let summary = row.summary else { continue }
            table.append([
                row.scenario, row.unit.label, row.unit.format(summary.median), row.unit.format(summary.min),
                row.unit.format(summary.max), String(row.samples.count),
                row.targetText ?? row.target.map { $0.text(row.unit) } ?? "—", row.verdict,
            ])
        }
        var widths = [Int](repeating: 0, count: header.count)
        for line in table {
            for (column, cell) in line.enumerated() { widths[column] = max(widths[column], cell.count) }
        }
        // Text columns flush left, numbers flush right.
        let numeric: Set<Int> = [2, 3, 4, 5]
        func render(_ line: [String]) -> String {
            let cells = line.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return numeric.contains(column) ? padding + cell : cell + padding
            }
            return "| " + cells.joined(separator: " | ") + " |"
        }
        let rule =
            "|"
            + widths.enumerated().map { column, width in
                numeric.contains(column)
                    ? String(repeating: "-", count: width + 1) + ":" : String(repeating: "-", count: width + 2)
            }.joined(separator: "|") + "|"
        var lines = [render(header), rule]
        for line in table.dropFirst() { lines.append(render(line)) }
        return lines.joined(separator: "\n")
    }
}
