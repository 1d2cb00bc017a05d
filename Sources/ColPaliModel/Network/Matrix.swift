import Foundation

/// A row-major float32 matrix with its own 64-byte aligned storage. A class,
/// so activations of hundreds of megabytes are never copied by accident.
package final class Matrix: @unchecked Sendable {
    package let rows: Int
    package let cols: Int
    package let pointer: UnsafeMutablePointer<Float>

    package init(rows: Int, cols: Int, zeroed: Bool = false) {
        self.rows = rows
        self.cols = cols
        let count = max(1, rows * cols)
        let raw = LargeAllocation.allocate(bytes: count * MemoryLayout<Float>.stride)
        pointer = raw.bindMemory(to: Float.self, capacity: count)
        if zeroed { pointer.initialize(repeating: 0, count: count) }
    }

    package convenience init(rows: Int, cols: Int, values: [Float]) {
        precondition(values.count == rows * cols)
        self.init(rows: rows, cols: cols)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { LargeAllocation.free(UnsafeMutableRawPointer(pointer), bytes: max(1, rows * cols) * MemoryLayout<Float>.stride) }

    package func row(_ index: Int) -> UnsafeMutablePointer<Float> { pointer + index * cols }

    /// A copy of rows [range] as an array.
    package func values(rows range: Range<Int>) -> [Float] {
        Array(UnsafeBufferPointer(start: pointer + range.lowerBound * cols, count: range.count * cols))
    }

    package var allValues: [Float] { values(rows: 0..<rows) }
}
