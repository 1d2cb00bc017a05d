/// Byte-pair encoding as the Hugging Face tokenizers library runs it for
/// Gemma: one symbol per character (or its UTF-8 bytes as `<0xXX>` tokens when
/// the character is not in the vocabulary), then repeatedly merge the
/// adjacent pair with the lowest merge rank, leftmost first. A priority queue
/// of candidate merges keeps long inputs at O(n log n).
struct BPEModel {
    let vocab: [String: Int]
    /// (left id, right id) packed -> (rank, merged id).
    let merges: [UInt64: (rank: Int32, id: Int32)]
    let unknownId: Int?
    let byteFallback: Bool
    let fuseUnknown: Bool
    let ignoreMerges: Bool
    /// `<0x00>`...`<0xFF>` ids, when present.
    let byteIds: [Int?]

    init(vocab: [String: Int], merges: [(String, String)], unknownToken: String?, byteFallback: Bool,
         fuseUnknown: Bool, ignoreMerges: Bool, file: String) throws {
        self.vocab = vocab
        var table: [UInt64: (rank: Int32, id: Int32)] = [:]
        table.reserveCapacity(merges.count)
        for (rank, (left, right)) in merges.enumerated() {
            guard let a = vocab[left], let b = vocab[right], let merged = vocab[left + right] else {
                throw TokenizerError.invalidFile(file, reason: "merge '\(left) \(right)' uses tokens missing from the vocabulary")
            }
            let key = Self.pairKey(a, b)
            if table[key] == nil { table[key] = (Int32(rank), Int32(merged)) }
        }
        self.merges = table
        unknownId = unknownToken.flatMap { vocab[$0] }
        self.byteFallback = byteFallback
        self.fuseUnknown = fuseUnknown
        self.ignoreMerges = ignoreMerges
        byteIds = (0..<256).map { vocab[String(format: "<0x%02X>", $0)] }
    }

    @inline(__always) static func pairKey(_ a: Int, _ b: Int) -> UInt64 {
        UInt64(UInt32(truncatingIfNeeded: a)) << 32 | UInt64(UInt32(truncatingIfNeeded: b))
    }

    private struct Symbol {
        var id: Int
        var prev: Int
        var next: Int
        var alive: Bool
    }

    private struct Candidate: Comparable {
        var rank: Int32
        var position: Int
        var merged: Int32
        static func < (l: Candidate, r: Candidate) -> Bool {
            l.rank != r.rank ? l.rank < r.rank : l.position < r.position
        }
    }

    func encode(_ word: Substring.UnicodeScalarView, into ids: inout [Int]) {
        if word.isEmpty { return }
        if ignoreMerges, let id = vocab[String(word)] {
            ids.append(id)
            return
        }
        var symbols: [Symbol] = []
        symbols.reserveCapacity(word.count)
        var lastWasUnknown = false
        func add(_ id: Int) {
            symbols.append(Symbol(id: id, prev: symbols.count - 1, next: symbols.count + 1, alive: true))
        }
        for scalar in word {
            if let id = vocab[String(scalar)] {
                add(id)
                lastWasUnknown = false
                continue
            }
            if byteFallback {
                let bytes = Array(String(scalar).utf8)
                let fallback = bytes.compactMap { byteIds[Int($0)] }
                if fallback.count == bytes.count {
                    fallback.forEach(add)
                    lastWasUnknown = false
                    continue
                }
            }
            if let unknownId {
                if !(fuseUnknown && lastWasUnknown) { add(unknownId) }
                lastWasUnknown = true
            }
        }
        guard !symbols.isEmpty else { return }
        symbols[symbols.count - 1].next = -1

        var queue = MinHeap<Candidate>()
        for i in 0..<(symbols.count - 1) {
            if let merge = merges[Self.pairKey(symbols[i].id, symbols[i + 1].id)] {
                queue.push(Candidate(rank: merge.rank, position: i, merged: merge.id))
            }
        }
        while let top = queue.pop() {
            let i = top.position
            guard symbols[i].alive, symbols[i].next >= 0 else { continue }
            let j = symbols[i].next
            guard let merge = merges[Self.pairKey(symbols[i].id, symbols[j].id)], merge.id == top.merged else { continue }
            symbols[i].id = Int(merge.id)
            symbols[j].alive = false
            symbols[i].next = symbols[j].next
            if symbols[j].next >= 0 { symbols[symbols[j].next].prev = i }
            let prev = symbols[i].prev
            if prev >= 0, let m = merges[Self.pairKey(symbols[prev].id, symbols[i].id)] {
                queue.push(Candidate(rank: m.rank, position: prev, merged: m.id))
            }
            let next = symbols[i].next
            if next >= 0, let m = merges[Self.pairKey(symbols[i].id, symbols[next].id)] {
                queue.push(Candidate(rank: m.rank, position: i, merged: m.id))
            }
        }
        var i = 0
        while i >= 0 && i < symbols.count {
            ids.append(symbols[i].id)
            i = symbols[i].next
        }
    }
}

/// A binary min-heap.
struct MinHeap<Element: Comparable> {
    private var items: [Element] = []

    mutating func push(_ item: Element) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if items[child] < items[parent] {
                items.swapAt(child, parent)
                child = parent
            } else { break }
        }
    }

    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < items.count && items[left] < items[smallest] { smallest = left }
                if right < items.count && items[right] < items[smallest] { smallest = right }
                if smallest == parent { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}
