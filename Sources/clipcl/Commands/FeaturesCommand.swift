import CLIP
import Datasets
import Foundation
import TensorKit

/// `clipcl features`: import features computed elsewhere, inspect and verify caches.
enum FeaturesCommand: Command {
    static let name = "features"
    static let summary = "Feature caches: import .npy/safetensors features, show a cache, verify its checksums."
    static let usage = """
        clipcl features import --out DIR --class-names names.txt --text-features F [--train-features F --train-labels F]
                               [--test-features F --test-labels F] [--logit-scale 100] [--dataset NAME] [--storage f16|f32]
                               [--chunk-size 1024] [--templates FILE] [--model-id ID] [--json]
               clipcl features info DIR [--json]
               clipcl features verify DIR [--json]
               clipcl features standin --dataset fashion-mnist --out DIR [--dim 512] [--seed 0] [--root PATH]

        standin writes stand-in features made from a dataset's real pixels: a fixed random projection of each image,
        and per-class means of the training features as "text" features. They keep the class structure of real data
        where no pre-trained CLIP is available; they are not CLIP features (meta.json's model_id says so).

        F is a .npy file (dtype <f4, <f2, <i8 or <i4, C order) or FILE.safetensors:TENSOR. Features are [N, D],
        labels [N] integers, text features [C, D] or [T, C, D] (per template; averaged as CLIP does).
        """
    static let options: [OptionSpec] = [
        .option("out", "DIR", "import: the new cache folder (must be empty or absent)"),
        .option("train-features", "F", "import: train features [N, D] (.npy or FILE.safetensors:TENSOR)"),
        .option("train-labels", "F", "import: train labels [N] (integers)"),
        .option("test-features", "F", "import: test features [M, D]"),
        .option("test-labels", "F", "import: test labels [M]"),
        .option("class-names", "FILE", "import: class names, one per line, line i = label i"),
        .option("text-features", "F", "import: text features [C, D] or [T, C, D]"),
        .option("logit-scale", "S", "import: exp(logit_scale) of the model (default 100)"),
        .option("dataset", "NAME", "import: dataset name stored in meta.json (default 'imported'; a known benchmark name also stores its class order)"),
        .option("storage", "T", "import: storage type f16 or f32 (default: f16 if every feature input is float16, else f32)"),
        .option("chunk-size", "C", "import: rows per shard file (default 1024)"),
        .option("templates", "FILE", "import: the prompt templates behind the text features, one per line (optional)"),
        .option("model-id", "ID", "import: model name stored in meta.json (default 'imported')"),
        .option("dim", "D", "standin: feature dimension (default 512)"),
        .option("seed", "S", "standin: seed of the random projection (default 0)"),
        .option("root", "PATH", "standin: dataset folder (default: the benchmark's default location)"),
        .flag("json", "Print JSON on stdout"),
    ]

    static func run(_ args: ParsedArguments) throws {
        guard let sub = args.positionals.first else {
            throw UsageError(message: "features needs a subcommand: import, info or verify", command: name)
        }
        switch sub {
        case "import": try importFeatures(args)
        case "info": try info(args)
        case "verify": try verify(args)
        case "standin": try standIn(args)
        default: throw UsageError(message: "unknown subcommand '\(sub)' (available: import, info, verify, standin)", command: name)
        }
    }

    static func importFeatures(_ args: ParsedArguments) throws {
        guard args.positionals.count == 1 else { throw UsageError(message: "import takes no positional arguments", command: name) }
        let out = URL(fileURLWithPath: try args.require("out"))
        let classNames = try readLines(try args.require("class-names"), what: "class names")
        guard !classNames.isEmpty else { throw UsageError(message: "the --class-names file is empty", command: name) }
        var inputs: [ImportedArray] = []
        func split(_ s: String) throws -> ImportSplit? {
            let f = args.string("\(s)-features"), l = args.string("\(s)-labels")
            guard f != nil || l != nil else { return nil }
            guard let f, let l else { throw UsageError(message: "give both --\(s)-features and --\(s)-labels", command: name) }
            let features = try ImportedArray.load(f)
            inputs.append(features)
            return ImportSplit(features: try features.tensor(), labels: try ImportedArray.load(l).labels())
        }
        let train = try split("train"), test = try split("test")
        guard train != nil || test != nil else { throw UsageError(message: "give --train-features/--train-labels and/or --test-features/--test-labels", command: name) }
        let text = try ImportedArray.load(try args.require("text-features"))
        var dtype: FeatureDType = inputs.allSatisfy { $0.dtype == "F16" } ? .f16 : .f32
        if let raw = args.string("storage") {
            guard let d = FeatureDType(parsing: raw) else { throw UsageError(message: "--storage must be f16 or f32, got '\(raw)'", command: name) }
            dtype = d
        }
        let scale = try args.double("logit-scale") ?? 100
        guard scale > 0 else { throw UsageError(message: "--logit-scale must be positive (it is exp(logit_scale), e.g. 100)", command: name) }
        let templates = try args.string("templates").map { try readLines($0, what: "templates") } ?? []
        let summary = try FeatureCacheImporter.write(
            into: out, dataset: args.string("dataset") ?? "imported", classNames: classNames, logitScale: Float(scale),
            modelID: args.string("model-id") ?? "imported", dtype: dtype,
            chunkSize: try args.int("chunk-size", range: 1...1_000_000) ?? 1024, train: train, test: test,
            textFeatures: try text.tensor(), templates: templates)
        if args.flag("json") {
            try printJSON(summary)
        } else {
            print("imported into \(out.path): train \(summary.train.map(String.init) ?? "-"), test \(summary.test.map(String.init) ?? "-"), "
                  + "\(summary.classes) classes, D = \(summary.embedDim), \(summary.shards) shards (\(dtype.rawValue))")
        }
    }

    static func cacheArgument(_ args: ParsedArguments) throws -> FeatureCache {
        guard args.positionals.count == 2 else { throw UsageError(message: "\(args.positionals[0]) takes one cache folder", command: name) }
        return try FeatureCache.open(URL(fileURLWithPath: args.positionals[1]))
    }

    static func standIn(_ args: ParsedArguments) throws {
        let out = URL(fileURLWithPath: try args.require("out"))
        let benchmark = try Benchmark.named(try args.require("dataset"))
        let root = args.string("root").map { URL(fileURLWithPath: $0) }
        let dim = try args.int("dim", range: 1...65_536) ?? 512
        let seed = UInt64(try args.int("seed", range: 0...Int.max) ?? 0)
        let train = try benchmark.load(split: .train, root: root), test = try benchmark.load(split: .test, root: root)
        let made = try StandInFeatures.make(train: train, test: test, classNames: try benchmark.classNames(for: train),
                                            dimension: dim, seed: seed)
        let summary = try FeatureCacheImporter.write(
            into: out, dataset: benchmark.name, classNames: made.classNames, logitScale: 100,
            modelID: "standin:random-projection-\(dim)-seed\(seed)", dtype: .f32, chunkSize: 4096, train: made.train,
            test: made.test, textFeatures: made.textFeatures, templates: [StandInFeatures.template])
        if args.flag("json") {
            try printJSON(summary)
        } else {
            print("stand-in features of \(benchmark.name) in \(out.path): train \(summary.train.map(String.init) ?? "-"), "
                  + "test \(summary.test.map(String.init) ?? "-"), D = \(summary.embedDim) (a proxy for method comparisons, not CLIP)")
        }
    }

    static func info(_ args: ParsedArguments) throws {
        let cache = try cacheArgument(args)
        let m = cache.meta
        if args.flag("json") {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try e.encode(m), as: UTF8.self))
            return
        }
        print("\(cache.directory.path): \(m.dataset), \(m.classNames.count) classes, model \(m.modelID) "
              + "(sha256 \(m.checkpointSHA256.map { String($0.prefix(12)) } ?? "none")), D = \(m.embedDim), \(m.dtype.rawValue), "
              + "chunk \(m.chunkSize), views \(m.views), \(m.templates.count) template(s), logit scale \(m.logitScale)")
        for (name, s) in m.splits.sorted(by: { $0.key < $1.key }) {
            print("  \(name): \(s.samples) samples of \(s.datasetSamples), \(s.shards) shards, \(s.skipped.count) skipped, "
                  + (s.complete ? "complete" : "INCOMPLETE") + (s.part.map { " (part \($0))" } ?? ""))
        }
    }

    struct VerifyReport: Encodable {
        let cache: String
        let shards: Int
        let ok: Bool
        let seconds: Double
    }

    static func verify(_ args: ParsedArguments) throws {
        let cache = try cacheArgument(args)
        let start = Date()
        let n = try cache.verifyAll()
        let report = VerifyReport(cache: cache.directory.path, shards: n, ok: true, seconds: Date().timeIntervalSince(start))
        if args.flag("json") { try printJSON(report) } else { print("\(cache.directory.path): \(n) shards and text.safetensors verified") }
    }
}
