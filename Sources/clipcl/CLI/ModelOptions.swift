import CLIP
import Foundation
import TensorKit

/// Options shared by every command that loads a checkpoint.
let modelOptions: [OptionSpec] = [
    .option("model", "M", "Checkpoint: HF or open_clip folder, a .safetensors/.bin/.pt file, or a hub id org/name[@REV]"),
    .option("revision", "REV", "Hub branch, tag, commit or refs/pr/N of --model (default main)"),
    .option("cleaning", "MODE", "Tokenizer text cleaning: openai or huggingface (default: follows the checkpoint layout)"),
    .flag("offline", "Never use the network (hub models must already be in the Hugging Face cache)"),
]

/// For commands that run the image tower.
let imageDTypeOption = OptionSpec.option(
    "dtype", "f32|bf16|int8", "Image-tower matmul precision: f32 (default), bf16 (about 2x faster with AVX-512 BF16; cosine >= 0.999 to f32) or int8 (AVX-512 VNNI)")

/// `id` and `revision` stand in for --model and --revision when those are not given (a learner state's model).
func loadModel(_ args: ParsedArguments, id defaultID: String? = nil, revision defaultRevision: String? = nil) throws -> LoadedCLIP {
    let id = try args.string("model") ?? defaultID ?? args.require("model")
    var options = ModelLoadOptions()
    if let raw = args.string("cleaning") {
        guard let c = TextCleaning(rawValue: raw) else {
            throw UsageError(message: "--cleaning must be openai or huggingface, got '\(raw)'", command: args.command)
        }
        options.cleaning = c
    }
    options.revision = args.string("revision") ?? defaultRevision
    options.hub = HubClient(offline: args.flag("offline"), progress: DownloadProgress().report)
    let dtype = try args.string("dtype").map { (raw) throws -> ComputeDType in try ComputeDType(parsing: raw) }
    var clip = try ModelSource.load(id, options: options)
    // A command loads its model once, so bf16 or int8 never needs the fp32 matmul weights again.
    if let dtype {
        warnIfDTypeIsSlow(dtype)
        try clip.model.vision.setDType(dtype, releasingFP32Weights: true)
    }
    return clip
}

/// Without AVX-512 BF16 (VNNI) the bf16 (int8) path runs its portable C loop: same results, far slower than fp32.
func warnIfDTypeIsSlow(_ dtype: ComputeDType) {
    if dtype == .bf16 && !BFloat16GEMM.isAccelerated {
        printError("warning: this CPU has no AVX-512 BF16 instructions; --dtype bf16 runs a slow portable kernel (use f32)")
    }
    if dtype == .int8 && !Int8GEMM.isAccelerated {
        printError("warning: this CPU has no AVX-512 VNNI instructions; --dtype int8 runs a slow portable kernel (use f32)")
    }
}

/// Reads non-empty lines of a text file (class names, templates).
func readLines(_ path: String, what: String) throws -> [String] {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CLIPError.invalidInput("cannot read \(what) file \(path)")
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw CLIPError.invalidInput("\(what) file \(path) is not UTF-8 text")
    }
    return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}
