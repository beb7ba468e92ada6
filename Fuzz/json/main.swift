// libFuzzer target: the JSON config readers (HF / OpenCLIP model configs, HF preprocessor config,
// experiment configs). Errors are fine; crashes are bugs.
import CLIP
import Continual
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = Data(bytes: data, count: size)
    _ = try? ConfigReader.huggingFace(input, source: "fuzz-config.json")
    _ = try? ConfigReader.openCLIP(input, source: "fuzz-open_clip_config.json")
    _ = try? PreprocessConfig.huggingFace(preprocessorConfig: input)
    if let config = try? ExperimentConfig.decode(input, source: "fuzz-experiment.json") {
        _ = try? config.encoded()
    }
    return 0
}
