import Testing
@testable import TensorKit

/// When clipcl asks OpenBLAS for other kernels (`OPENBLAS_CORETYPE`, set by the executable before it runs again).
@Suite struct BLASCoreTests {
    @Test func onlyAPreAVX2FallbackOnAnAVX2OrAVX512CPUIsOverridden() {
        // Debian 12's OpenBLAS 0.3.21 on a CPU it does not know (Intel Xeon model 207): "Prescott" kernels.
        #expect(Parallelism.blasCoreOverride(current: "Prescott", supported: "Cooperlake") == "Cooperlake")
        #expect(Parallelism.blasCoreOverride(current: "Nehalem", supported: "Haswell") == "Haswell")
        #expect(Parallelism.blasCoreOverride(current: "Sandybridge", supported: "SkylakeX") == "SkylakeX")
        // A recognised CPU keeps OpenBLAS's choice, also when it differs from ours (Zen 4 gets Cooperlake or Zen).
        for current in ["Cooperlake", "SkylakeX", "Haswell", "Zen", "SapphireRapids"] {
            #expect(Parallelism.blasCoreOverride(current: current, supported: "Cooperlake") == nil, "\(current)")
        }
        // A CPU without AVX2 has nothing better to ask for.
        #expect(Parallelism.blasCoreOverride(current: "Prescott", supported: nil) == nil)
    }

    /// On this machine: whatever OpenBLAS picked, the override (if any) is a family the CPU supports.
    @Test func liveOverrideIsNilOrWhatTheCPUSupports() {
        if let core = Parallelism.blasCoreOverride {
            #expect(["Cooperlake", "SkylakeX", "Haswell"].contains(core))
            #expect(!["cooperlake", "skylakex", "haswell", "zen"].contains(Parallelism.blasCoreName.lowercased()))
        }
    }
}
