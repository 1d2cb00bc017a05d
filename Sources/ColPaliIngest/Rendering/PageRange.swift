/// A page selection such as "1-5,8,10-": 1-based, inclusive, open-ended
/// ranges allowed.
public struct PageRange: Sendable, Equatable, CustomStringConvertible {
    let parts: [ClosedRange<Int>]
    public let description: String

    public static let all = PageRange(parts: [1...Int.max], description: "all")

    init(parts: [ClosedRange<Int>], description: String) {
        self.parts = parts
        self.description = description
    }

    /// Pieces a range may have ("1-5,8" has two): selecting pages costs
    /// pages x pieces, and no one writes hundreds by hand.
    public static let maximumPieces = 256

    public init?(_ text: String) {
        var parts: [ClosedRange<Int>] = []
        let pieces = text.split(separator: ",", maxSplits: Self.maximumPieces)
        guard pieces.count <= Self.maximumPieces else { return nil }
        for piece in pieces {
            let bounds = piece.split(separator: "-", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            if bounds.count == 1, let page = Int(bounds[0]), page >= 1 {
                parts.append(page...page)
            } else if bounds.count == 2, let low = bounds[0].isEmpty ? 1 : Int(bounds[0]), low >= 1,
                      let high = bounds[1].isEmpty ? Int.max : Int(bounds[1]), high >= low {
                parts.append(low...high)
            } else {
                return nil
            }
        }
        guard !parts.isEmpty else { return nil }
        self.parts = parts
        description = text
    }

    /// The selected pages of a document with `count` pages, in order, once each.
    public func pages(of count: Int) -> [Int] {
        (1...max(1, count)).filter { page in page <= count && parts.contains { $0.contains(page) } }
    }

    /// "1-3, 5": page numbers (sorted) as people write them.
    public static func describe(_ pages: [Int]) -> String {
        var parts: [String] = []
        var start: Int?
        var previous = 0
        for page in pages.sorted() {
            if start != nil, page == previous + 1 { previous = page; continue }
            if let first = start { parts.append(first == previous ? "\(first)" : "\(first)-\(previous)") }
            start = page
            previous = page
        }
        if let first = start { parts.append(first == previous ? "\(first)" : "\(first)-\(previous)") }
        return parts.joined(separator: ", ")
    }
}
