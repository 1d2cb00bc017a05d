/// Finds added tokens (`<bos>`, `<image>`, `<loc0000>`, ...) in text, leftmost
/// first and longest at a position, as the Hugging Face tokenizers library's
/// added-vocabulary split does.
struct AddedTokenMatcher: @unchecked Sendable {
    private final class Node {
        var children: [Unicode.Scalar: Node] = [:]
        var tokenId: Int?
    }

    private let root = Node()
    var isEmpty: Bool { root.children.isEmpty }

    init(_ tokens: [(content: String, id: Int)]) {
        for (content, id) in tokens where !content.isEmpty {
            var node = root
            for scalar in content.unicodeScalars {
                if let next = node.children[scalar] {
                    node = next
                } else {
                    let next = Node()
                    node.children[scalar] = next
                    node = next
                }
            }
            node.tokenId = id
        }
    }

    enum Piece {
        case text(Substring.UnicodeScalarView)
        case token(Int)
    }

    /// Splits text into runs of plain text and matched tokens.
    func split(_ text: Substring.UnicodeScalarView) -> [Piece] {
        guard !isEmpty else { return text.isEmpty ? [] : [.text(text)] }
        var pieces: [Piece] = []
        var plainStart = text.startIndex
        var i = text.startIndex
        while i < text.endIndex {
            var node = root
            var j = i
            var match: (id: Int, end: Substring.UnicodeScalarView.Index)?
            while j < text.endIndex, let next = node.children[text[j]] {
                node = next
                j = text.index(after: j)
                if let id = node.tokenId { match = (id, j) }
            }
            if let match {
                if plainStart < i { pieces.append(.text(text[plainStart..<i])) }
                pieces.append(.token(match.id))
                i = match.end
                plainStart = i
            } else {
                i = text.index(after: i)
            }
        }
        if plainStart < text.endIndex { pieces.append(.text(text[plainStart..<text.endIndex])) }
        return pieces
    }
}
