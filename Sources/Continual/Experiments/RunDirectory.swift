import Datasets
import Foundation
import TensorKit

/// The files of one run (`clipcl run --out DIR`):
///
///     DIR/config.json                  the fully resolved experiment config
///     DIR/metrics.json                 RunSummary: avg, last, accuracy_matrix, per_task, forgetting, bwt, timings
///     DIR/tasks.csv                    one row per seed and task
///     DIR/accuracy.svg, report.html    accuracy per task; a self-contained report
///     DIR/log.txt                      progress lines
///     DIR/seed-S/result.json           the seed's result so far (resume point)
///     DIR/seed-S/adapter-task-T.safetensors   the method's parameters after task T (only the latest task's for
///                                      methods with large state: FeCAM, RanPAC)
///
/// Every file is written to a temporary name, fsynced and renamed (FeatureCacheFiles.writeAtomically), so a kill never leaves a half-written
/// file; `result.json` is written after the task's weights, so it never points at missing ones.
public struct RunDirectory: Sendable {
    public let url: URL

    public init(_ url: URL) { self.url = url }

    public var configURL: URL { url.appendingPathComponent("config.json") }
    public func seedDirectory(_ seed: UInt64) -> URL { url.appendingPathComponent("seed-\(seed)") }
    public func resultURL(_ seed: UInt64) -> URL { seedDirectory(seed).appendingPathComponent("result.json") }
    public func weightsURL(_ seed: UInt64, task: Int) -> URL {
        seedDirectory(seed).appendingPathComponent("adapter-task-\(task).safetensors")
    }

    /// True when the directory already holds a run (a config.json).
    public var holdsRun: Bool { FileManager.default.fileExists(atPath: configURL.path) }

    /// Removes the run's files, config.json last: a kill part-way leaves either the old config with fewer files (which
    /// is cleared again) or no run at all, never the old seeds' results under a new config. The lock file stays.
    func clear() throws {
        let fm = FileManager.default
        for name in try fm.contentsOfDirectory(atPath: url.path)
        where name != FeatureCacheFiles.lockName && name != configURL.lastPathComponent {
            try fm.removeItem(at: url.appendingPathComponent(name))
        }
        try fm.removeItem(at: configURL)
    }

    public func savedConfig() throws -> ExperimentConfig {
        try ExperimentConfig.decode(try Data(contentsOf: configURL), source: configURL.path)
    }

    public func savedResult(_ seed: UInt64) throws -> RunResult? {
        guard let data = FileManager.default.contents(atPath: resultURL(seed).path) else { return nil }
        do {
            return try JSONDecoder().decode(RunResult.self, from: data)
        } catch {
            throw ContinualError.invalidResume("\(resultURL(seed).path) is not a valid result (\(error))")
        }
    }

    public func savedParameters(_ seed: UInt64, task: Int) throws -> [String: Tensor] {
        let u = weightsURL(seed, task: task)
        guard FileManager.default.fileExists(atPath: u.path) else { return [:] }
        let file = try SafeTensorsFile(contentsOf: u)
        var out: [String: Tensor] = [:]
        for name in file.names { out[name] = try file.tensor(name) }
        return out
    }

    /// Writes the task's parameters, then result.json (the resume point); with `keepPrevious == false` the previous
    /// task's parameter file is removed after both are in place (a kill in between leaves both, never neither).
    func saveTask(seed: UInt64, task: Int, parameters: [String: Tensor], result: RunResult, keepPrevious: Bool = true) throws {
        try FileManager.default.createDirectory(at: seedDirectory(seed), withIntermediateDirectories: true)
        if !parameters.isEmpty {
            var w = SafeTensorsWriter()
            for name in parameters.keys.sorted() { try w.add(name, parameters[name]!) }
            w.metadata = ["seed": "\(seed)", "task": "\(task)", "method": result.method]
            try w.write(to: weightsURL(seed, task: task))
        }
        try FeatureCacheFiles.writeAtomically(try Self.encoder.encode(result), to: resultURL(seed))
        if !keepPrevious && task > 0 { try? FileManager.default.removeItem(at: weightsURL(seed, task: task - 1)) }
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }()

    /// Writes metrics.json, tasks.csv, accuracy.svg and report.html for finished seeds.
    func writeReports(_ summary: RunSummary, dataset: String) throws {
        try FeatureCacheFiles.writeAtomically(try Self.encoder.encode(summary), to: url.appendingPathComponent("metrics.json"))
        try FeatureCacheFiles.writeAtomically(Data(summary.taskCSV().utf8), to: url.appendingPathComponent("tasks.csv"))
        let plot = AccuracyPlot(title: "\(summary.name): \(dataset) \(summary.scenario)",
                                series: [.init(name: summary.name, values: summary.perTask.map(\.accuracy))])
        let svg = plot.svg()
        try FeatureCacheFiles.writeAtomically(Data(svg.utf8), to: url.appendingPathComponent("accuracy.svg"))
        let n = summary.seeds.count
        let report = HTMLReport(
            title: "\(summary.name) — \(dataset) \(summary.scenario)",
            header: ["method", "Avg", "Last", "Forgetting", "BWT", "seeds"],
            rows: [[summary.method, RunSummary.format(summary.avg, summary.avgStd, seeds: n),
                    RunSummary.format(summary.last, summary.lastStd, seeds: n),
                    RunSummary.format(summary.forgetting, summary.forgettingStd, seeds: n),
                    RunSummary.format(summary.bwt, summary.bwtStd, seeds: n), summary.seeds.map(String.init).joined(separator: ",")]],
            plotSVG: svg,
            notes: ["Accuracies in percent on the test samples of all classes seen so far (sample-weighted).",
                    "Avg = mean over tasks of A_t; Last = A_T; forgetting (Chaudhry et al.) and BWT (GEM, final row) over old tasks.",
                    "metrics.json also has avg_task_mean / last_task_mean (A_t as the mean of per-task accuracies, Mammoth) and "
                        + "bwt_continuum (continuum's backward_transfer)."])
        try FeatureCacheFiles.writeAtomically(Data(report.html().utf8), to: url.appendingPathComponent("report.html"))
    }
}
