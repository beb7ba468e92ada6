import CLIP
import Continual
import Datasets
import Foundation
import TensorKit

/// `clipcl demo` (what `make demo` runs): Fashion-MNIST B0Inc2, the method comparison.
///
/// 1. loads the model (default openai/clip-vit-base-patch32 from the hub or the Hugging Face cache; when the
///    hub cannot be reached at all it falls back, loudly, to random weights of the same architecture: the
///    pipeline runs, the numbers are not CLIP's),
/// 2. extracts features of the first N train and test images into a resumable cache,
/// 3. runs zeroshot, ncm, simplecil, fecam, ranpac, linear+topk, rapf, attention, prompt and joint
///    and prints the table (report.html and comparison.csv in --out).
enum DemoCommand: Command {
    static let name = "demo"
    static let summary = "Fashion-MNIST B0Inc2: extract features and compare the methods (what `make demo` runs)."
    static let usage = "clipcl demo [--model M] [--train-limit N] [--test-limit N] [--out DIR] [--seeds S,...] [--root PATH]"
    static let options: [OptionSpec] = modelOptions + [
        imageDTypeOption,
        .option("train-limit", "N", "Training images to use (first N in file order; default 2000; 0 = all 60000)"),
        .option("test-limit", "N", "Test images to use (default 1000; 0 = all 10000)"),
        .option("root", "PATH", "Fashion-MNIST folder (default /usr/share/datasets/fashion-mnist)"),
        .option("out", "DIR", "Output folder (default runs/demo)"),
        .option("seeds", "S,...", "Seeds for the trained methods (default 0)"),
        .option("epochs", "N", "Epochs per task (default 15)"),
        .option("methods", "M,...", "Methods to compare (default: all of " + variants.map(\.0).joined(separator: ",") + ")"),
        .flag("json", "Print the comparison as JSON"),
    ]

    /// The methods compared, with the config keys that make each.
    static let variants: [(String, [String])] = [
        ("zeroshot", ["method=zeroshot"]),
        ("ncm", ["method=ncm"]),
        ("simplecil", ["method=simplecil"]),
        ("fecam", ["method=fecam"]),
        ("ranpac", ["method=ranpac"]),
        ("linear+topk", ["method=linear", "retention=topk"]),
        ("rapf", ["method=rapf"]),
        ("attention", ["method=attention"]),
        ("prompt", ["method=prompt", "retention=none"]),
        ("joint", ["method=joint"]),
    ]

    static func run(_ args: ParsedArguments) throws {
        let out = URL(fileURLWithPath: args.string("out") ?? "runs/demo")
        var chosen = variants
        if let list = args.string("methods") {
            let names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            for n in names where !variants.contains(where: { $0.0 == n }) {
                throw UsageError(message: "--methods: unknown method '\(n)' (one of \(variants.map(\.0).joined(separator: ", ")))", command: name)
            }
            chosen = variants.filter { names.contains($0.0) }
        }
        let (clip, fellBack) = try demoModel(args)
        let trainLimit = try args.int("train-limit", range: 0...60_000) ?? (fellBack ? 1000 : 2000)
        let testLimit = try args.int("test-limit", range: 0...10_000) ?? (fellBack ? 500 : 1000)
        let benchmark = try Benchmark.named("fashion-mnist")
        let cacheDir = out.appendingPathComponent("cache-" + slug(clip.modelID) + "-\(trainLimit)-\(testLimit)")
        let root = args.string("root").map { URL(fileURLWithPath: $0) }
        let sha = try FeatureCache.checkpointSHA256(of: clip)
        for (split, limit) in [(DatasetSplit.train, trainLimit), (.test, testLimit)] {
            let samples = try benchmark.load(split: split, root: root)
            var options = ExtractionOptions(split: split, templates: try benchmark.templates(nil))
            options.limit = limit == 0 ? nil : limit
            let extractor = try FeatureExtractor(clip: clip, checkpointSHA256: sha, benchmark: benchmark, samples: samples, options: options)
            let s = try runWithProgress(extractor, label: "extract \(split.rawValue)", into: cacheDir)
            if s.imagesRead > 0 {
                printError("extract \(split.rawValue): \(s.samples) features, " + String(format: "%.1f img/s", s.imagesPerSecond))
            }
        }

        var base = ExperimentConfig()
        base.features = cacheDir.path
        base.model = clip.modelID
        try base.set("increment=2")
        try base.set("seeds=\(args.string("seeds") ?? "0")")
        if let e = args.string("epochs") { try base.set("epochs=\(e)") }
        var entries: [Comparison.Entry] = []
        for (label, sets) in chosen {
            var c = base
            c.name = label
            for s in sets { try c.set(s) }
            entries.append(.init(label: label, config: c))
        }
        var comparison = Comparison(title: "Fashion-MNIST B0Inc2 (\(clip.modelID))", entries: entries,
                                    directory: out.appendingPathComponent("comparison-" + slug(clip.modelID) + "-\(trainLimit)-\(testLimit)"))
        comparison.log = { line in
            if line.hasPrefix("[") || line.contains(": Avg") || line.contains("config changed") { printError(line) }
        }
        comparison.replacesChangedRuns = true
        let started = Date()
        let results = try comparison.run()
        if args.flag("json") {
            try printJSON(results.map { SweepCommand.SweepRow(label: $0.0.label, summary: $0.1) })
            return
        }
        print("\nFashion-MNIST B0Inc2, \(clip.modelID), \(trainLimit == 0 ? "all" : "\(trainLimit)") train / \(testLimit == 0 ? "all" : "\(testLimit)") test images")
        if fellBack {
            print("WARNING: random weights (no pre-trained CLIP could be loaded): these are NOT CLIP results.")
        }
        print(Comparison.table(results.map { ($0.0.label, $0.1) }))
        print(String(format: "\nmethods ran in %.1f s; report: %@", Date().timeIntervalSince(started),
                     comparison.directory.appendingPathComponent("report.html").path))
    }

    /// The requested model, or random weights of ViT-B/32 when the hub cannot be reached at all (no network, DNS,
    /// connection refused) or is switched off without the model cached. A missing repo or file, a gated repo, a
    /// corrupt download or a disk error is an error, never a reason to run on random weights.
    static func demoModel(_ args: ParsedArguments) throws -> (LoadedCLIP, Bool) {
        if args.string("model") != nil { return (try loadModel(args), false) }
        var fallbackArgs = args
        fallbackArgs.values["model"] = ["openai/clip-vit-base-patch32"]
        do {
            return (try loadModel(fallbackArgs), false)
        } catch let e as HubError {
            switch e {
            case .unreachable, .offlineNotCached: break
            default: throw e
            }
            printError("warning: could not load openai/clip-vit-base-patch32: \(e)")
            printError("warning: falling back to random:ViT-B-32 — random weights; the pipeline runs, the accuracies are not CLIP's")
            fallbackArgs.values["model"] = ["random:ViT-B-32"]
            return (try loadModel(fallbackArgs), true)
        }
    }

    static func slug(_ s: String) -> String {
        String(s.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" })
    }
}
