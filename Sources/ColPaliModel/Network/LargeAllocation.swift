import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Memory for weights and activations. Large blocks come straight from mmap
/// with transparent huge pages requested: a 3B model's packed weights are
/// millions of 4 KiB pages otherwise, and faulting them in dominated load
/// time; huge pages also relieve the TLB in the matrix multiplies.
enum LargeAllocation {
    static let threshold = 2 << 20

    static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        let size = max(bytes, 64)
        if size >= threshold {
            let rounded = (size + threshold - 1) / threshold * threshold
            if let pointer = mmap(nil, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
               pointer != MAP_FAILED {
                _ = madvise(pointer, rounded, 14 /* MADV_HUGEPAGE */)
                return pointer
            }
        }
        return UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
    }

    static func free(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        let size = max(bytes, 64)
        if size >= threshold {
            munmap(pointer, (size + threshold - 1) / threshold * threshold)
        } else {
            pointer.deallocate()
        }
    }
}
