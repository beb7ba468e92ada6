import Foundation

/// metrics.json of a run directory: the means (± standard deviation over seeds) of the standard
/// metrics, the mean accuracy matrix and per-task accuracies, timings, and every seed's full result.
public struct RunSummary: Codable, Sendable {
    public struct TaskSummary: Codable, Sendable {
        public var task: Int
        public var accuracy: Double
        public var old: Double?
        public var new: Double
    }

    public var name: String
    public var method: String
    public var scenario: String
    public var seeds: [UInt64]
    public var avg: Double
    public var avgStd: Double
    public var last: Double
    public var lastStd: Double
    public var forgetting: Double?
    public var forgettingStd: Double?
    public var bwt: Double?
    public var bwtStd: Double?
    /// The same with the task-mean A_t (Mammoth), and BWT over continuum's pairs (see `Metrics`).
    public var avgTaskMean: Double?
    public var avgTaskMeanStd: Double?
    public var lastTaskMean: Double?
    public var lastTaskMeanStd: Double?
    public var bwtContinuum: Double?
    public var bwtContinuumStd: Double?
    public var accuracyMatrix: [[Double]]
    public var perTask: [TaskSummary]
    public var timings: TaskTimings
    public var runs: [RunResult]

    enum CodingKeys: String, CodingKey {
        case name, method, scenario, seeds, avg, last, forgetting, bwt, timings, runs
        case avgStd = "avg_std", lastStd = "last_std", forgettingStd = "forgetting_std", bwtStd = "bwt_std"
        case avgTaskMean = "avg_task_mean", avgTaskMeanStd = "avg_task_mean_std", lastTaskMean = "last_task_mean"
        case lastTaskMeanStd = "last_task_mean_std", bwtContinuum = "bwt_continuum", bwtContinuumStd = "bwt_continuum_std"
        case accuracyMatrix = "accuracy_matrix", perTask = "per_task"
    }

    public init(name: String, runs: [RunResult]) {
        precondition(!runs.isEmpty, "a summary needs at least one run")
        self.name = name
        self.runs = runs
        method = runs[0].method
        scenario = runs[0].scenario.name
        seeds = runs.map(\.seed)
        (avg, avgStd) = Self.meanStd(runs.map(\.avg))
        (last, lastStd) = Self.meanStd(runs.map(\.last))
        let f = runs.compactMap(\.forgetting), b = runs.compactMap(\.bwt)
        if f.count == runs.count { (forgetting, forgettingStd) = Self.meanStd(f) }
        if b.count == runs.count { (bwt, bwtStd) = Self.meanStd(b) }
        let am = runs.compactMap(\.avgTaskMean), lm = runs.compactMap(\.lastTaskMean), bc = runs.compactMap(\.bwtContinuum)
        if am.count == runs.count { (avgTaskMean, avgTaskMeanStd) = Self.meanStd(am) }
        if lm.count == runs.count { (lastTaskMean, lastTaskMeanStd) = Self.meanStd(lm) }
        if bc.count == runs.count { (bwtContinuum, bwtContinuumStd) = Self.meanStd(bc) }
        let matrix = runs[0].accuracyMatrix
        accuracyMatrix = matrix.indices.map { t in
            matrix[t].indices.map { k in runs.map { $0.accuracyMatrix[t][k] }.reduce(0, +) / Double(runs.count) }
        }
        perTask = runs[0].records.indices.map { t in
            let rs = runs.map { $0.records[t] }
            let olds = rs.compactMap(\.old)
            return TaskSummary(task: rs[0].task, accuracy: rs.map(\.accuracy).reduce(0, +) / Double(rs.count),
                               old: olds.count == rs.count ? olds.reduce(0, +) / Double(rs.count) : nil,
                               new: rs.map(\.new).reduce(0, +) / Double(rs.count))
        }
        timings = TaskTimings(train: runs.map(\.timings.train).reduce(0, +),
                              retention: runs.map(\.timings.retention).reduce(0, +),
                              evaluation: runs.map(\.timings.evaluation).reduce(0, +))
    }

    /// Mean and sample standard deviation (0 for one value).
    static func meanStd(_ xs: [Double]) -> (Double, Double) {
        let m = xs.reduce(0, +) / Double(xs.count)
        guard xs.count > 1 else { return (m, 0) }
        let v = xs.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(xs.count - 1)
        return (m, v.squareRoot())
    }

    /// "75.17 ± 0.31" (or just the mean for one seed).
    public static func format(_ mean: Double?, _ std: Double?, seeds: Int) -> String {
        guard let mean else { return "–" }
        return seeds > 1 ? String(format: "%.2f ± %.2f", mean, std ?? 0) : String(format: "%.2f", mean)
    }

    /// Per-task rows for tasks.csv: one line per seed and task.
    public func taskCSV() -> String {
        let maxTasks = runs.map { $0.records.count }.max() ?? 0
        let header = ["seed", "task", "accuracy", "old", "new", "train_loss", "train_s", "retention_s", "evaluation_s"]
            + (0..<maxTasks).map { "acc_task_\($0)" }
        var rows: [[String]] = []
        for r in runs {
            for rec in r.records {
                rows.append(["\(r.seed)", "\(rec.task)", String(format: "%.4f", rec.accuracy),
                             rec.old.map { String(format: "%.4f", $0) } ?? "", String(format: "%.4f", rec.new),
                             rec.trainLoss.map { String(format: "%.6f", $0) } ?? "",
                             String(format: "%.3f", rec.seconds.train), String(format: "%.3f", rec.seconds.retention),
                             String(format: "%.3f", rec.seconds.evaluation)]
                            + rec.accuracies.map { String(format: "%.4f", $0) })
            }
        }
        return CSV.encode(header: header, rows: rows)
    }
}
