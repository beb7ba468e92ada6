import CLIP
import Continual
import Datasets
import Foundation
import TensorKit

/// `clipcl predict`: labels for images from a learner state, with probabilities over every learnt class.
enum PredictCommand: Command {
    static let name = "predict"
    static let summary = "Classify images with a learner state (clipcl learn): top-k labels and probabilities."
    static let usage = "clipcl predict --state DIR[@N] (IMAGE... | --folder F) [--top-k 5] [--json | --csv]"
    static let options: [OptionSpec] = [
        .option("state", "DIR[@N]", "Learner state directory; @N predicts with state N instead of the current one"),
        .option("folder", "F", "Classify every image below F (any layout)"),
        .option("top-k", "K", "Labels per image (default 5)"),
        .option("batch-size", "B", "Images per forward pass (default 32)"),
        .flag("offline", "Never use the network (the state's hub model must be in the Hugging Face cache)"),
        imageDTypeOption,
        .flag("json", "Print JSON on stdout"),
        .flag("csv", "Print CSV on stdout (image,rank,label,probability)"),
    ]

    struct Prediction: Encodable {
        let image: String
        var labels: [String]? = nil
        var probabilities: [Float]? = nil
        var error: String? = nil
    }

    static func run(_ args: ParsedArguments) throws {
        guard !(args.flag("json") && args.flag("csv")) else { throw UsageError(message: "choose one of --json and --csv", command: name) }
        let (dir, number) = try learnerState(args)
        let samples: LabeledSamples
        if let folder = args.string("folder") {
            guard args.positionals.isEmpty else { throw UsageError(message: "give IMAGEs or --folder, not both", command: name) }
            samples = try ImageFolderReader.unlabelledImages(in: URL(fileURLWithPath: folder))
        } else {
            guard !args.positionals.isEmpty else { throw UsageError(message: "give at least one IMAGE, or --folder", command: name) }
            samples = LabeledSamples(dataset: "images", split: nil, ids: args.positionals, labels: args.positionals.map { _ in 0 },
                                     classNames: nil, content: .files(args.positionals.map { URL(fileURLWithPath: $0) }),
                                     source: URL(fileURLWithPath: "."))
        }
        let learner = try dir.load(number)
        let model = learner.state.model
        let clip = try loadModel(args, id: model.id, revision: model.checkpointRevision)
        let sha = try FeatureCache.checkpointSHA256(of: clip)
        try checkSameCheckpoint(sha, model, state: dir.url)
        let encoder = learner.state.config.method == .prompt ? CLIPPromptEncoder(tower: clip.model.text, tokenizer: clip.tokenizer) : nil
        let classifier = try LearnerClassifier(learner, textEncoder: encoder)

        var options = ExtractionOptions(split: .test, templates: model.templates)
        options.batchSize = try args.int("batch-size", range: 1...4096) ?? 32
        let extractor = FeatureExtractor(clip: clip, checkpointSHA256: sha, dataset: "images", classNames: ["image"], classOrder: nil,
                                         samples: samples, options: options)
        var bar: ProgressBar? = nil
        if samples.count > 1 {
            extractor.progress = { done, total in
                if bar == nil, total > 0 { bar = ProgressBar("predict", total: total, unit: "img") }
                bar?.update(done)
            }
        }
        var results = samples.ids.map { Prediction(image: $0) }
        let (features, indices) = try extractor.encodeInMemory { i, reason in
            results[i].error = reason
            printError("error: \(samples.fileURL(at: i)?.path ?? samples.ids[i]): \(reason)")
        }
        bar?.finish()
        let names = learner.state.classNames
        let k = min(try args.int("top-k", range: 1...100_000) ?? 5, names.count)
        if !indices.isEmpty {
            let probabilities = try classifier.probabilities(features)
            for (row, i) in indices.enumerated() {
                let p = Array(probabilities.storage[(row * names.count)..<((row + 1) * names.count)])
                let top = p.indices.sorted { p[$0] > p[$1] || (p[$0] == p[$1] && $0 < $1) }.prefix(k)
                results[i].labels = top.map { names[$0] }
                results[i].probabilities = top.map { p[$0] }
            }
        }
        if args.flag("json") {
            try printJSON(results)
        } else if args.flag("csv") {
            print("image,rank,label,probability")
            for r in results {
                for (rank, (label, p)) in zip(r.labels ?? [], r.probabilities ?? []).enumerated() {
                    print("\(csvField(r.image)),\(rank + 1),\(csvField(label)),\(String(format: "%.6f", p))")
                }
            }
        } else {
            for r in results where r.labels != nil {
                print(r.image + "\t" + zip(r.labels!, r.probabilities!).map { "\($0) (\(String(format: "%.3f", $1)))" }.joined(separator: ", "))
            }
        }
        let failed = results.count - indices.count
        if failed > 0 { printError("\(failed) of \(results.count) images could not be read (see the errors above)") }
    }

    static func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}

/// `--state DIR` or `--state DIR@N` (when DIR@N is not itself a folder).
func learnerState(_ args: ParsedArguments) throws -> (LearnerDirectory, Int?) {
    let spec = try args.require("state")
    if !FileManager.default.fileExists(atPath: spec), let at = spec.lastIndex(of: "@") {
        let tail = spec[spec.index(after: at)...]
        guard let n = Int(tail), n >= 1 else { throw UsageError(message: "--state DIR@N needs a state number N ≥ 1, got '\(tail)'", command: args.command) }
        return (LearnerDirectory(URL(fileURLWithPath: String(spec[..<at]))), n)
    }
    return (LearnerDirectory(URL(fileURLWithPath: spec)), nil)
}
