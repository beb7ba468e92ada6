import CLIP
import Continual
import Datasets
import Foundation
import TensorKit

/// `clipcl learn`: adds the classes of one folder to a continual classifier kept in a versioned state directory.
enum LearnCommand: Command {
    static let name = "learn"
    static let summary = "Add new classes from a folder (FOLDER/<class>/*.jpg|png) to a continual classifier."
    static let usage = """
        clipcl learn --state DIR --task FOLDER [--model M] [--method linear] [--holdout 0.1] [--keep-features] [config keys]
               clipcl learn --state DIR --rollback N
        """
    static let options: [OptionSpec] = modelOptions + [
        .option("state", "DIR", "Learner state directory (created by the first learn)"),
        .option("task", "FOLDER", "The new classes: one sub-folder of images per class"),
        .option("holdout", "FRACTION", "Part of each class's images held out to measure the task (default 0.1)"),
        .flag("keep-features", "Also keep the training features of every task in the state"),
        .option("rollback", "N", "Make state N current again (later states stay on disk)"),
        .option("config", "FILE", "Method settings from an experiment config (first learn only)"),
        .repeated("set", "KEY=VALUE", "Override a config key (first learn only)"),
        imageDTypeOption,
        .flag("json", "Print the new state as JSON"),
    ] + runConfigKeyOptions

    struct Report: Encodable {
        let state: Int
        let classes: [String]
        let task: LearnerTask
        let method: String
    }

    static func run(_ args: ParsedArguments) throws {
        let dir = LearnerDirectory(URL(fileURLWithPath: try args.require("state")))
        if let n = try args.int("rollback", range: 1...Int(Int32.max)) {
            guard args.string("task") == nil else { throw UsageError(message: "--rollback does not take --task", command: name) }
            let learner = try dir.rollback(to: n)
            print("state \(n) is current: \(learner.state.classNames.count) classes after \(learner.state.tasks.count) tasks")
            return
        }
        let folder = URL(fileURLWithPath: try args.require("task")).standardizedFileURL
        let holdout = try args.double("holdout") ?? 0.1
        guard holdout >= 0 && holdout < 1 else { throw UsageError(message: "--holdout must be in [0, 1), got \(holdout)", command: name) }
        // The folder is read before anything is loaded or locked: bad input fails fast.
        let samples = try ImageFolderReader.load(root: folder, split: nil, dataset: "folder")
        let names = samples.classNames ?? []

        let lock = try dir.lock()
        defer { lock.release() }
        let previous = try dir.currentNumber() == nil ? nil : try dir.load()
        let configGiven = args.string("config") != nil || !args.strings("set").isEmpty || runConfigKeyOptions.contains { args.string($0.name) != nil }
        if let previous, configGiven {
            throw ContinualError.learner("method settings are fixed by the first learn (\(dir.url.path) learns with "
                                         + "\(previous.state.config.method.rawValue)); drop them, or start another --state")
        }
        let config = try previous?.state.config ?? learnerConfig(args)
        try Learner.checkClasses(names, in: folder.path, old: previous?.state.classNames ?? [], config: config)

        guard let modelID = args.string("model") ?? previous?.state.model.id else {
            throw UsageError(message: "the first learn needs --model (a hub id, folder or checkpoint file)", command: name)
        }
        if let previous, modelID != previous.state.model.id {
            throw ContinualError.learner("\(dir.url.path) was learnt with model \(previous.state.model.id), not \(modelID): a state only learns with its own model")
        }
        let clip = try loadModel(args, id: modelID, revision: previous?.state.model.checkpointRevision)
        let sha = try FeatureCache.checkpointSHA256(of: clip)
        if let previous { try checkSameCheckpoint(sha, previous.state.model, state: dir.url) }
        let templates = try previous?.state.model.templates ?? Benchmark.named("folder").templates()

        // Encoded into a feature cache in the state directory: a killed learn resumes its encoding.
        var options = ExtractionOptions(split: .train, templates: templates)
        options.dtype = .f32
        options.strict = true
        let key = SHA256.hex(of: Data(([sha, folder.path] + samples.ids).joined(separator: "\n").utf8)).prefix(16)
        let encoding = dir.encodingURL(key: String(key))
        let extractor = FeatureExtractor(clip: clip, checkpointSHA256: sha, dataset: "folder", classNames: names, classOrder: nil,
                                         samples: samples, options: options)
        _ = try runWithProgress(extractor, label: "encode \(folder.lastPathComponent)", into: encoding)
        let cache = try FeatureCache.open(encoding)
        let split = try cache.split(.train)
        let task = Learner.NewTask(folder: folder.path, classNames: names, features: split.features, labels: split.labels,
                                   text: try cache.textFeatures().classifier)
        let model = LearnerModel(id: modelID, checkpointSHA256: sha, checkpointRevision: clip.revision, preprocessing: clip.preprocess,
                                 embedDim: clip.model.config.embedDim, logitScale: clip.model.logitScaleExp, templates: templates)
        let encoder = config.method == .prompt ? CLIPPromptEncoder(tower: clip.model.text, tokenizer: clip.tokenizer) : nil
        var bar: ProgressBar? = nil
        let learnt = try Learner.learn(task, previous: previous, config: config, model: model, number: dir.nextNumber,
                                       holdout: holdout, keepFeatures: args.flag("keep-features"), textEncoder: encoder) { event in
            if case let .epochEnd(_, epoch, _, _) = event {
                if bar == nil { bar = ProgressBar("train", total: config.epochs, unit: "epochs") }
                bar?.update(epoch + 1)
            }
        }
        bar?.finish()
        try dir.commit(learnt)
        try? FileManager.default.removeItem(at: encoding)

        let s = learnt.state, entry = s.tasks[s.tasks.count - 1]
        if args.flag("json") {
            try printJSON(Report(state: s.number, classes: s.classNames, task: entry, method: s.config.method.rawValue))
        } else {
            let measured = entry.heldOutAccuracy.map { String(format: "; %.2f%% of %d held-out images right among all %d classes", $0, entry.heldOutImages, s.classNames.count) } ?? ""
            print("state \(s.number): learnt \(entry.classes.count) classes from \(entry.folder) (\(entry.trainImages) images\(measured)); "
                  + "\(s.classNames.count) classes in all, \(s.config.method.rawValue)")
        }
    }

    /// The method settings of a first learn: --config's run settings, then the key flags, then --set.
    static func learnerConfig(_ args: ParsedArguments) throws -> RunConfig {
        var config = try experimentConfig(args).run
        config.seeds = [config.seeds.first ?? 2]
        return config
    }
}

/// A state's features only mean something with the weights it was learnt with.
func checkSameCheckpoint(_ sha: String, _ model: LearnerModel, state: URL) throws {
    guard sha == model.checkpointSHA256 else {
        throw ContinualError.learner("\(state.path) was learnt with another checkpoint of \(model.id) (sha256 \(model.checkpointSHA256.prefix(12))…, "
                                     + "this one \(sha.prefix(12))…): its classes would not match these features")
    }
}
