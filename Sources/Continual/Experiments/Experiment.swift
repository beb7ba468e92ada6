import CLIP
import Datasets
import Foundation
import TensorKit

/// Runs an experiment (every seed of one config) into a run directory, resuming where a
/// previous, interrupted run of the same config stopped.
public struct Experiment {
    public var config: ExperimentConfig
    public var directory: RunDirectory
    /// With `resume == false`, a directory that already holds a run is refused.
    public var resume: Bool
    /// Progress lines (also appended to log.txt).
    public var log: (String) -> Void = { _ in }
    /// With `resume == true`, a run of another config in the directory is replaced instead of refused (the demo,
    /// whose runs are quick to redo, after an upgrade changed a default or its flags changed).
    public var replacesChangedRun = false
    /// Only reads: a directory without a complete run of this config is an error instead of being trained
    /// (`clipcl sweep --collect`).
    public var requireComplete = false
    /// Stops after this task (for tests and kill-resume checks).
    public var stopAfterTask: Int?

    public init(config: ExperimentConfig, directory: URL, resume: Bool) {
        self.config = config
        self.directory = RunDirectory(directory)
        self.resume = resume
    }

    /// Runs all seeds; returns the summary (also written as metrics.json with the reports).
    @discardableResult
    public func run() throws -> RunSummary {
        guard !config.features.isEmpty else {
            throw ContinualError.invalidConfig(key: "features", reason: "no feature cache given (set \"features\" in the config or pass --features)")
        }
        try config.run.validate()
        // Everything that can fail on bad input happens before the run directory is created or written to.
        let cache = try FeatureCache.open(URL(fileURLWithPath: config.features))
        let features = try FeatureSet(cache: cache)
        let order = try config.resolveClassOrder(cache: cache)
        let runner = try ContinualRunner(config: config.run, classOrder: order, features: features)
        if requireComplete && !directory.holdsRun {
            throw ContinualError.invalidResume("\(directory.url.path) holds no run: run this point first (clipcl sweep --shard i/n, or without --collect)")
        }
        try FileManager.default.createDirectory(at: directory.url, withIntermediateDirectories: true)
        let lock = try CacheLock.acquire(directory.url)
        defer { lock.release() }

        if directory.holdsRun {
            guard resume else {
                throw ContinualError.invalidResume("\(directory.url.path) already holds a run; pass --resume to continue it, or choose another --out")
            }
            let saved = try directory.savedConfig()
            if saved != (try config.resolvedForSaving()) {
                guard replacesChangedRun else {
                    throw ContinualError.invalidResume("\(directory.configURL.path) differs from this run's config; resume with the same config and overrides")
                }
                log("\(directory.url.lastPathComponent): the config changed since the last run; running it again")
                try directory.clear()
            }
        }
        let encoder = try promptEncoder(cache: cache)
        if !directory.holdsRun { try FeatureCacheFiles.writeAtomically(try config.encoded(), to: directory.configURL) }
        let logFile = LogFile(directory.url.appendingPathComponent("log.txt"))
        let say: (String) -> Void = { line in logFile.append(line); self.log(line) }

        var results: [RunResult] = []
        for seed in runner.seeds {
            results.append(try runSeed(seed, runner: runner, encoder: encoder, say: say))
        }
        let summary = RunSummary(name: config.name, runs: results)
        if results.allSatisfy(\.complete) {
            try directory.writeReports(summary, dataset: cache.meta.dataset)
            say(config.name + ": Avg " + RunSummary.format(summary.avg, summary.avgStd, seeds: results.count) + "  Last " +
                RunSummary.format(summary.last, summary.lastStd, seeds: results.count))
        }
        return summary
    }

    func runSeed(_ seed: UInt64, runner: ContinualRunner, encoder: (any PromptTextEncoder)?, say: (String) -> Void) throws -> RunResult {
        var resumePoint: ContinualRunner.ResumePoint? = nil
        if let saved = try directory.savedResult(seed) {
            if saved.complete {
                say("seed \(seed): already complete")
                return saved
            }
            let lastTask = saved.records.count - 1
            guard !requireComplete else {
                throw ContinualError.invalidResume("\(directory.url.path): seed \(seed) stopped after task \(lastTask); resume it first (clipcl sweep without --collect)")
            }
            resumePoint = .init(result: saved, parameters: try directory.savedParameters(seed, task: lastTask))
            say("seed \(seed): resuming after task \(lastTask)")
        }
        guard !requireComplete else {
            throw ContinualError.invalidResume("\(directory.url.path): seed \(seed) has not run; run it first (clipcl sweep without --collect)")
        }
        var method = try runner.makeMethod(seed: seed, textEncoder: encoder)
        let dir = directory
        return try runner.run(method: &method, seed: seed, resume: resumePoint, stopAfterTask: stopAfterTask,
                              log: { event in
                                  if case let .epochEnd(task, epoch, loss, _) = event {
                                      say(String(format: "seed %llu task %d epoch %d loss %.5f", seed, task, epoch, loss))
                                  }
                              },
                              afterTask: { t, m, result in
                                  try dir.saveTask(seed: seed, task: t, parameters: m.parameters, result: result,
                                                   keepPrevious: m.savesEveryTask)
                                  let r = result.records.last!
                                  say("seed \(seed) task \(t): " + String(format: "A_t %.2f (old ", r.accuracy) + (r.old.map { String(format: "%.2f", $0) } ?? "–") + String(format: ", new %.2f)", r.new))
                              })
    }

    /// The frozen CLIP text tower prompt tuning trains through (only for method = prompt).
    func promptEncoder(cache: FeatureCache) throws -> (any PromptTextEncoder)? {
        guard config.run.method == .prompt else { return nil }
        let id = config.model ?? cache.meta.modelID
        // The cache's own model at the hub commit it was extracted from, unless its id names a revision.
        var options = ModelLoadOptions()
        if config.model == nil, let (_, revision) = HubClient.parseModelID(id), revision == nil {
            options.revision = cache.meta.checkpointRevision
        }
        let clip: LoadedCLIP
        do {
            clip = try ModelSource.load(id, options: options)
        } catch {
            throw ContinualError.missingDependency("prompt tuning needs the text tower of \(id)\(config.model == nil ? " (the model the cache was made with)" : ""): \(error)")
        }
        return CLIPPromptEncoder(tower: clip.model.text, tokenizer: clip.tokenizer)
    }
}

extension ExperimentConfig {
    /// The config as written to config.json (run options resolved), for comparing on resume.
    func resolvedForSaving() throws -> ExperimentConfig {
        try ExperimentConfig.decode(try encoded(), source: "config")
    }
}

/// Appends lines to a log file (best effort: logging never stops a run).
final class LogFile: @unchecked Sendable {
    let handle: FileHandle?
    init(_ url: URL) {
        if !FileManager.default.fileExists(atPath: url.path) { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
        handle = try? FileHandle(forWritingTo: url)
        _ = try? handle?.seekToEnd()
    }
    func append(_ line: String) { try? handle?.write(contentsOf: Data((line + "\n").utf8)) }
    deinit { try? handle?.close() }
}
