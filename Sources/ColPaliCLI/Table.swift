/// Plain-text table rows: positive widths right-align, negative left-align,
/// zero leaves the cell as it is (the last column).
enum Table {
    static func row(_ cells: [String], widths: [Int]) -> String {
        zip(cells, widths).map { cell, width in
            let padding = String(repeating: " ", count: max(0, abs(width) - cell.count))
            return width > 0 ? padding + cell : width < 0 ? cell + padding : cell
        }.joined(separator: "  ")
    }
}
