// libFuzzer target: the CIFAR readers' building blocks — the restricted unpickler, gzip inflation
// (Datasets' GzipData and CLIP's Gzip) and the tar reader (on the input and on its inflated form).
import CLIP
import Datasets
import Foundation
import TensorKit

private let maxOutput = 64 << 20

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = Data(bytes: data, count: size)
    _ = try? RestrictedUnpickler.unpickle(input, name: "fuzz.pickle", vocabulary: .numpyArrays)
    _ = try? RestrictedUnpickler.unpickle(input, name: "fuzz.pickle", vocabulary: .torchStateDict)
    _ = try? TarReader.regularFiles(in: input, name: "fuzz.tar")
    _ = try? Gzip.gunzip(input, maxOutputBytes: maxOutput, source: "fuzz.gz")
    if GzipData.isGzip(input), let inflated = try? GzipData.decompress(input, maxOutputBytes: maxOutput, name: "fuzz.gz") {
        try? TarReader.forEachRegularFile(in: inflated, name: "fuzz.tar.gz") { entry in
            _ = try? RestrictedUnpickler.unpickle(entry.data, name: entry.path, vocabulary: .numpyArrays)
        }
    }
    return 0
}
