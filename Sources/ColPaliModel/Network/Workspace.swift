/// Scratch memory of one forward pass. The bf16 copy of a Linear's input and
/// attention's per-head buffers have the same sizes in every layer, so they
/// are allocated once per pass and reused, not mapped and faulted in again
/// by every layer. Not shared between concurrent passes.
final class Workspace: @unchecked Sendable {
    enum Slot: Int, CaseIterable {
        case linearInput, keys, values, queries, probabilities, scores, mlpHidden
    }

    private var buffers = [ScratchBuffer?](repeating: nil, count: Slot.allCases.count)

    /// At least `bytes` bytes, 64-byte aligned; valid until the slot is asked
    /// for again with a larger size.
    func bytes(_ slot: Slot, _ bytes: Int) -> UnsafeMutableRawPointer {
        if let buffer = buffers[slot.rawValue], buffer.bytes >= bytes { return buffer.pointer }
        let buffer = ScratchBuffer(bytes: bytes)
        buffers[slot.rawValue] = buffer
        return buffer.pointer
    }

    func bf16(_ slot: Slot, count: Int) -> UnsafeMutablePointer<UInt16> {
        bytes(slot, max(1, count) * 2).bindMemory(to: UInt16.self, capacity: max(1, count))
    }

    func floats(_ slot: Slot, count: Int) -> UnsafeMutablePointer<Float> {
        bytes(slot, max(1, count) * 4).bindMemory(to: Float.self, capacity: max(1, count))
    }
}

/// Memory from LargeAllocation (huge pages when large), 64-byte aligned.
final class ScratchBuffer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let bytes: Int

    init(bytes: Int) {
        self.bytes = bytes
        pointer = LargeAllocation.allocate(bytes: bytes)
    }

    deinit { LargeAllocation.free(pointer, bytes: bytes) }
}
