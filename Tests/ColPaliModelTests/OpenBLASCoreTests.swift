import ColPaliModel
import Testing

/// fp32 runs on OpenBLAS, which picks its kernels from a table of CPUs it
/// knows: on one it does not know, it falls back to SSE3 kernels without a
/// word, and the user should hear which setting fixes that.
struct OpenBLASCoreTests {
    @Test func sse3KernelsOnAnAVX512CPUCallForSkylakeX() {
        #expect(OpenBLASCore(name: "Prescott", cpu: "avx512").betterCoreType == "SkylakeX")
    }

    @Test func olderKernelsOnAnAVX2CPUCallForHaswell() {
        #expect(OpenBLASCore(name: "Nehalem", cpu: "avx2").betterCoreType == "Haswell")
        #expect(OpenBLASCore(name: "generic", cpu: "avx2").betterCoreType == "Haswell")
    }

    @Test(arguments: ["Haswell", "Zen", "SkylakeX", "COOPERLAKE", "SapphireRapids"])
    func vectorKernelsNeedNoAdvice(core: String) {
        #expect(OpenBLASCore(name: core, cpu: "avx512").betterCoreType == nil)
        #expect(OpenBLASCore(name: core, cpu: "avx2").betterCoreType == nil)
    }

    @Test func aCPUWithoutAVX2HasNothingBetter() {
        #expect(OpenBLASCore(name: "Prescott", cpu: "scalar").betterCoreType == nil)
    }

    @Test func theLoadedLibraryNamesItsKernelsAndTheCPU() {
        let core = OpenBLASCore.current
        #expect(!core.name.isEmpty && core.name != "unknown")
        #expect(["avx512", "avx2", "scalar"].contains(core.cpu))
    }
}
