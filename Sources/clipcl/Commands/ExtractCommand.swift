import CLIP
import Datasets
import Foundation
import TensorKit

/// `clipcl extract`: image features of a dataset split into a crash-safe, resumable feature cache.
enum ExtractCommand: Command {
    static let name = "extract"
    static let summary = "Encode a dataset split once into a feature cache (resumable, shardable; format in README.md)."
    static let usage = """
        clipcl extract --model M --dataset D --split train|test --out DIR [--root PATH] [--dtype f32|bf16|int8] [--storage f16|f32] [--limit N]
                      [--batch-size B] [--chunk-size 1024] [--shard i/n] [--strict] [--views K] [--templates KEY] [--json]
               clipcl extract --model M --dataset D --split train|test --plan DIR [same options, no --shard/--views]
               clipcl extract --merge --out DIR PART_DIR...

        Rerunning the same command after an interruption (even kill -9) continues with the missing chunks; the
        result is bit-identical to an uninterrupted run. With --shard i/n a process encodes the chunks c with
        c % n == i into its own DIR; --merge joins the part folders into one cache. --plan writes what
        tools/extract_torch.py needs to encode the split with PyTorch on GPUs (meta.json, text features, the
        sample list) instead of encoding it; its parts merge the same way.
        Datasets: \(Benchmark.all.map(\.name).joined(separator: ", ")).
        """
    static let options: [OptionSpec] = modelOptions + [
        .option("dataset", "D", "Dataset: \(Benchmark.all.map(\.name).joined(separator: ", "))"),
        .option("split", "S", "Split to encode: train or test"),
        .option("root", "PATH", "Dataset location (default: the dataset's default root, e.g. /usr/share/datasets/fashion-mnist)"),
        .option("out", "DIR", "Cache folder (created if needed; an existing cache of the same model/dataset is continued)"),
        .option("storage", "T", "Feature storage type: f16 (default) or f32"),
        imageDTypeOption,
        .option("limit", "N", "Encode only the first N images of the split (dataset order)"),
        .option("batch-size", "B", "Images per forward pass (default 32; part of the cache identity)"),
        .option("chunk-size", "C", "Images per shard file (default 1024; part of the cache identity)"),
        .option("plan", "DIR", "Write an extraction plan for tools/extract_torch.py into DIR instead of encoding (no --out)"),
        .option("shard", "i/n", "Encode only the chunks c with c % n == i (one process of n), into its own --out"),
        .flag("strict", "Fail on an undecodable image instead of skipping it with a warning"),
        .option("views", "K", "Also store K-1 augmented views per image (random flip + 80-100% area crop, deterministic); default 1"),
        .option("templates", "KEY", "Prompt templates for the text features: continual_clip, rapf, photo, clip_cifar_18, clip_imagenet_80, continual_clip.<dataset>, or a file (default: the dataset's)"),
        .flag("merge", "Join part folders (positional arguments) of a --shard extraction into --out"),
        .flag("json", "Print a JSON summary on stdout"),
    ]

    static func run(_ args: ParsedArguments) throws {
        if args.flag("merge") { return try merge(args) }
        guard args.positionals.isEmpty else {
            throw UsageError(message: "unexpected argument '\(args.positionals[0])' (part folders are only for --merge)", command: name)
        }
        let benchmark = try Benchmark.named(try args.require("dataset"))
        let splitText = try args.require("split")
        guard let split = DatasetSplit(rawValue: splitText) else {
            throw UsageError(message: "--split must be train or test, got '\(splitText)'", command: name)
        }
        let plan = args.string("plan").map { URL(fileURLWithPath: $0) }
        if plan != nil {
            for flag in ["out", "shard", "views"] where args.string(flag) != nil {
                throw UsageError(message: "--\(flag) does not apply to --plan (tools/extract_torch.py takes --out and --shard)", command: name)
            }
        }
        let out = try plan ?? URL(fileURLWithPath: args.require("out"))
        var dtype = FeatureDType.f16
        if let raw = args.string("storage") {
            guard let d = FeatureDType(parsing: raw) else { throw UsageError(message: "--storage must be f16 or f32, got '\(raw)'", command: name) }
            dtype = d
        }
        var part: CachePart? = nil
        if let raw = args.string("shard") {
            guard let p = CachePart(parsing: raw) else {
                throw UsageError(message: "--shard must be i/n with 0 <= i < n, e.g. 0/4, got '\(raw)'", command: name)
            }
            part = p
        }
        let templates = try benchmark.templates(args.string("templates"))
        var options = ExtractionOptions(split: split, templates: templates)
        options.dtype = dtype
        options.limit = try args.int("limit", range: 1...Int(Int32.max))
        options.batchSize = try args.int("batch-size", range: 1...4096) ?? 32
        options.chunkSize = try args.int("chunk-size", range: 1...1_000_000) ?? 1024
        options.part = part
        options.strict = args.flag("strict")
        options.views = try args.int("views", range: 1...ExtractionOptions.maxViews) ?? 1

        let root = args.string("root").map { URL(fileURLWithPath: $0) }
        let samples = try benchmark.load(split: split, root: root)
        let clip = try loadModel(args)
        let sha = try FeatureCache.checkpointSHA256(of: clip)
        let extractor = try FeatureExtractor(clip: clip, checkpointSHA256: sha, benchmark: benchmark, samples: samples, options: options)
        extractor.log = { printError($0) }
        if let plan {
            let summary = try extractor.writePlan(into: plan)
            if args.flag("json") { return try printJSON(summary) }
            print("\(benchmark.name) \(split.rawValue): plan of \(summary.samples) images (\(summary.shards) shards) in \(plan.path) "
                  + "(\(String(format: "%.1f", summary.seconds)) s); encode it with tools/extract_torch.py --plan \(plan.path) --out DIR")
            return
        }
        let summary = try runWithProgress(extractor, label: "\(benchmark.name) \(split.rawValue)", into: out)
        if args.flag("json") {
            try printJSON(summary)
        } else {
            let rate = String(format: "%.1f", summary.imagesPerSecond)
            print("\(benchmark.name) \(split.rawValue)\(part.map { " part \($0)" } ?? ""): \(summary.samples) features in \(out.path) "
                  + "(\(summary.shardsWritten) shards written, \(summary.shardsReused) reused, \(summary.skippedTotal) skipped; "
                  + "\(summary.imagesRead) images in \(String(format: "%.1f", summary.seconds)) s, \(rate) img/s)")
        }
    }

    static func merge(_ args: ParsedArguments) throws {
        let out = URL(fileURLWithPath: try args.require("out"))
        guard !args.positionals.isEmpty else { throw UsageError(message: "--merge needs the part folders as arguments", command: name) }
        for flag in ["model", "dataset", "split", "shard", "limit", "views", "templates", "root", "plan"] where args.string(flag) != nil {
            throw UsageError(message: "--\(flag) does not apply to --merge (the parts' meta.json say everything)", command: name)
        }
        let summary = try FeatureCacheMerger.merge(parts: args.positionals.map { URL(fileURLWithPath: $0) }, into: out) { printError($0) }
        if args.flag("json") {
            try printJSON(summary)
        } else {
            print("merged \(summary.parts) parts into \(out.path): \(summary.splits.joined(separator: ", ")), "
                  + "\(summary.shards) shards, \(summary.samples) features (\(String(format: "%.1f", summary.seconds)) s)")
        }
    }
}

/// Runs an extractor with a progress bar (images/s, ETA) and warnings on stderr.
func runWithProgress(_ extractor: FeatureExtractor, label: String, into out: URL) throws -> ExtractionSummary {
    var bar: ProgressBar? = nil
    extractor.progress = { done, total in
        if bar == nil, total > 0 { bar = ProgressBar(label, total: total, unit: "img") }
        bar?.update(done)
    }
    extractor.warn = { printError($0) }
    let summary = try extractor.run(into: out)
    bar?.finish()
    return summary
}
