import CLIP
import Foundation
import Testing
import TestSupport
import TensorKit
@testable import Datasets

// Inputs found by the libFuzzer targets (tools/fuzz.sh, Fuzz/<target>/main.swift) that crashed or made the
// readers allocate absurd amounts of memory. Each file under Tests/Fixtures/fuzz/<target>/ is fed to the same
// code as the fuzz target: a thrown error or a success is fine, a crash is the regression.

struct FuzzRegressionTests {
    /// Fuzz/idx: the input as an IDX image file and as an IDX label file (default size limit).
    @Test func idxInputsNeverCrash() throws {
        for url in try TestSupport.fuzzInputs("idx") {
            _ = try? IDXReader.readImages(at: url)
            _ = try? IDXReader.readLabels(at: url)
        }
    }

    /// A 35-byte .gz whose header claims 3 × 1000 × 1,000,000 pixels (3 GB, under the 4 GiB default limit) used
    /// to allocate the whole claim before inflating; now the buffer grows with the data and the file is refused
    /// as truncated.
    @Test func gzippedIDXClaimingGigabytesIsTruncatedNotAllocated() throws {
        let url = TestSupport.fixtures.appendingPathComponent("fuzz/idx/images-gz-claims-3GB.idx3.gz")
        let before = peakResidentBytes()
        #expect(throws: DatasetError.self) { try IDXReader.readImages(at: url) }
        // The old code zero-filled the 3 GB claim before inflating: the peak RSS would jump by ~3 GB.
        #expect(peakResidentBytes() - before < 1 << 30, "reading a 35-byte file raised the peak RSS by over 1 GB")
    }

    /// VmHWM of this process (Linux), in bytes.
    func peakResidentBytes() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb * 1024
    }

    /// 48 KB of TUPLE1 opcodes nest tuples ~48,000 deep. The value tree is refused (deeper than 100 levels),
    /// but releasing the node graph used to recurse once per level in `deinit` and overflow the stack.
    @Test func deeplyNestedPickleThrowsWithoutStackOverflow() throws {
        let data = try Data(contentsOf: TestSupport.fixtures.appendingPathComponent("fuzz/pickle/stack-overflow-nested-tuple1.pickle"))
        #expect(throws: PickleError.self) { try RestrictedUnpickler.unpickle(data, name: "nested", vocabulary: .numpyArrays) }
        // Same shape, built in memory and 10x deeper, with a REDUCE whose refusal drops the nested arguments.
        let deep = Data([0x80, 0x02, 0x4E, 0x4E] + [UInt8](repeating: 0x85, count: 500_000) + [0x52, 0x2E])
        #expect(throws: PickleError.self) { try RestrictedUnpickler.unpickle(deep, name: "deep-reduce", vocabulary: .numpyArrays) }
    }

    /// Fuzz/pickle: restricted unpickler, gzip (both readers) and tar on the raw input and its inflated form.
    @Test func pickleTarGzipInputsNeverCrash() throws {
        for url in try TestSupport.fuzzInputs("pickle") {
            let data = try Data(contentsOf: url)
            _ = try? RestrictedUnpickler.unpickle(data, name: url.lastPathComponent, vocabulary: .numpyArrays)
            _ = try? TarReader.regularFiles(in: data, name: url.lastPathComponent)
            _ = try? Gzip.gunzip(data, maxOutputBytes: 64 << 20, source: url.lastPathComponent)
            if GzipData.isGzip(data), let inflated = try? GzipData.decompress(data, maxOutputBytes: 64 << 20) {
                try? TarReader.forEachRegularFile(in: inflated, name: url.lastPathComponent) { entry in
                    _ = try? RestrictedUnpickler.unpickle(entry.data, name: entry.path, vocabulary: .numpyArrays)
                }
            }
        }
    }
}
