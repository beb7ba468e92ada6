// An extraction plan: everything an external image encoder needs to fill a feature cache that clipcl's own
// extraction would have written, without clipcl's readers, tokenizer or text tower (`clipcl extract --plan DIR`,
// read by tools/extract_torch.py on GPU nodes; README "Encoding on GPUs with PyTorch").
//
//   DIR/meta.json                  the cache's meta.json as a run starts it (this split: complete false)
//   DIR/text.safetensors           the cache's text features, byte for byte what a run writes
//   DIR/plan-<split>.safetensors   the split's samples in dataset order:
//       labels [n] I64; pixels [n, H, W, C] U8 (HWC) for datasets decoded in memory (CIFAR, MNIST);
//       __metadata__: format "clipcl-extract-plan", version "1", split, ids (JSON), files (JSON array of
//       absolute paths, file datasets only), model_id, layout ("hf" | "open_clip"), weight_files (JSON array of
//       the weight file names whose hash is checkpoint_sha256)
//
// DIR is also a started cache: `clipcl extract --out DIR` with the same options continues it on the CPU.

import CLIP
import Foundation
import TensorKit

/// What `writePlan` wrote.
public struct ExtractionPlanSummary: Sendable, Encodable {
    public var split: String
    public var dataset: String
    public var samples: Int
    public var shards: Int
    public var file: String
    public var seconds: Double
}

public enum ExtractionPlanFile {
    public static let formatName = "clipcl-extract-plan"
    public static let version = "1"
    public static func name(_ split: DatasetSplit) -> String { "plan-\(split.rawValue).safetensors" }
}

extension FeatureExtractor {
    /// Writes the plan of this split into `dir` (created if needed; a plan or cache of the same identity is added to).
    /// Only the text tower runs. Refused for what an external encoder cannot reproduce: augmented views and int8.
    public func writePlan(into dir: URL) throws -> ExtractionPlanSummary {
        try validateOptions()
        guard options.views == 1 else { throw FeatureCacheError("", "--plan does not support --views (the augmentation is clipcl's own)") }
        guard options.part == nil else { throw FeatureCacheError("", "--plan covers the whole split; give --shard i/n to tools/extract_torch.py") }
        guard clip.model.vision.dtype != .int8 else {
            throw FeatureCacheError("", "--plan with --dtype int8: the int8 tower is clipcl's own; plan with --dtype f32 or bf16")
        }
        let begin = Date()
        let lock = try CacheLock.forWriting(dir)
        defer { lock.release() }
        let n = min(samples.count, options.limit ?? samples.count)
        let chunkCount = (n + options.chunkSize - 1) / options.chunkSize
        _ = try startSplit(dir, imageCount: n, chunkCount: chunkCount)

        var w = SafeTensorsWriter()
        try w.add("labels", int64s: samples.labels[0..<n].map(Int64.init), shape: [n])
        var metadata = [
            "format": ExtractionPlanFile.formatName,
            "version": ExtractionPlanFile.version,
            "split": options.split.rawValue,
            "ids": FeatureCacheFiles.jsonArray(Array(samples.ids[0..<n])),
            "model_id": clip.modelID,
            "layout": clip.layout.rawValue,
            "weight_files": FeatureCacheFiles.jsonArray(clip.weightFiles.map(\.lastPathComponent)),
        ]
        switch samples.content {
        case let .pixels(batch):
            let bytes = Array(batch.pixels[0..<(n * batch.bytesPerImage)])
            try w.add("pixels", rawBytes: bytes, dtype: .u8, shape: [n, batch.height, batch.width, batch.channels])
        case let .files(urls):
            metadata["files"] = FeatureCacheFiles.jsonArray(urls[0..<n].map { $0.standardizedFileURL.path })
        }
        w.metadata = metadata
        let url = dir.appendingPathComponent(ExtractionPlanFile.name(options.split))
        do { try w.write(to: url) } catch let e as SafeTensorsError {
            throw FeatureCacheError(url, "cannot write the plan: \(e.description)")
        }
        return ExtractionPlanSummary(split: options.split.rawValue, dataset: dataset, samples: n, shards: chunkCount,
                                     file: url.path, seconds: Date().timeIntervalSince(begin))
    }
}
