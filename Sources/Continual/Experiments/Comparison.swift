import Datasets
import Foundation

/// Several experiments over one feature cache (a sweep grid, or the demo's method comparison),
/// each in its own sub-directory, summarised in one table, CSV, plot and report.
public struct Comparison {
    public struct Entry: Sendable {
        public var label: String
        public var config: ExperimentConfig
        public init(label: String, config: ExperimentConfig) { self.label = label; self.config = config }
    }

    public var title: String
    public var entries: [Entry]
    public var directory: URL
    public var log: (String) -> Void = { _ in }
    /// Entries whose directory holds a run of another config are run again (see `Experiment.replacesChangedRun`).
    public var replacesChangedRuns = false
    /// One process of `count` (`clipcl sweep --shard i/n`): runs the entries e with e % count == index and writes no
    /// comparison files; `collect` then builds them from every entry's directory.
    public var part: (index: Int, count: Int)?
    /// Trains nothing: every entry must already hold a complete run (`clipcl sweep --collect`).
    public var collect = false

    public init(title: String, entries: [Entry], directory: URL) {
        self.title = title
        self.entries = entries
        self.directory = directory
    }

    /// Sub-directory of an entry: its label with path-unsafe characters replaced.
    public func subdirectory(_ e: Entry) -> URL {
        let safe = e.label.map { $0.isLetter || $0.isNumber || "-_.=+,".contains($0) ? $0 : "_" }
        return directory.appendingPathComponent(String(safe))
    }

    /// Runs (or resumes) every entry (of its part), then writes comparison.csv, comparison.svg and report.html
    /// (not for a part). With `collect`, reads the entries' runs instead; a missing or incomplete one is an error.
    @discardableResult
    public func run() throws -> [(Entry, RunSummary)] {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var out: [(Entry, RunSummary)] = []
        for (i, e) in entries.enumerated() {
            if let part, i % part.count != part.index { continue }
            log("[\(i + 1)/\(entries.count)] \(e.label)")
            var x = Experiment(config: e.config, directory: subdirectory(e), resume: true)
            x.log = log
            x.replacesChangedRun = replacesChangedRuns && !collect
            x.requireComplete = collect
            out.append((e, try x.run()))
        }
        if part == nil { try writeReports(out) }
        return out
    }

    public static let header = ["method", "Avg", "Last", "Forgetting", "BWT", "train s"]

    public static func row(_ label: String, _ s: RunSummary) -> [String] {
        let n = s.seeds.count
        return [label, RunSummary.format(s.avg, s.avgStd, seeds: n), RunSummary.format(s.last, s.lastStd, seeds: n),
                RunSummary.format(s.forgetting, s.forgettingStd, seeds: n), RunSummary.format(s.bwt, s.bwtStd, seeds: n),
                String(format: "%.2f", s.timings.train / Double(max(n, 1)))]
    }

    /// A fixed-width text table for the terminal.
    public static func table(_ rows: [(String, RunSummary)]) -> String {
        let cells = [header] + rows.map { row($0.0, $0.1) }
        let widths = header.indices.map { c in cells.map { $0[c].count }.max() ?? 0 }
        return cells.enumerated().map { i, r in
            let line = r.enumerated().map { c, v in
                c == 0 ? v.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                       : String(repeating: " ", count: widths[c] - v.count) + v
            }.joined(separator: "  ")
            return i == 0 ? line + "\n" + String(repeating: "-", count: line.count) : line
        }.joined(separator: "\n")
    }

    /// Accuracy after each task; joint's single point sits at the last task.
    static func curve(_ s: RunSummary) -> [Double] {
        let acc = s.perTask.map(\.accuracy)
        guard s.runs.first?.mode == .joint, let first = s.runs.first else { return acc }
        return [Double](repeating: .nan, count: max(0, first.scenario.taskCount - acc.count)) + acc
    }

    func writeReports(_ results: [(Entry, RunSummary)]) throws {
        let rows = results.map { Self.row($0.0.label, $0.1) }
        let csvRows = results.map { e, s in
            [e.label, String(format: "%.4f", s.avg), String(format: "%.4f", s.avgStd), String(format: "%.4f", s.last),
             String(format: "%.4f", s.lastStd), s.forgetting.map { String(format: "%.4f", $0) } ?? "",
             s.bwt.map { String(format: "%.4f", $0) } ?? "", s.seeds.map(String.init).joined(separator: " "),
             String(format: "%.3f", s.timings.train)]
        }
        try FeatureCacheFiles.writeAtomically(Data(CSV.encode(header: ["label", "avg", "avg_std", "last", "last_std", "forgetting", "bwt", "seeds", "train_s"],
                                            rows: csvRows).utf8), to: directory.appendingPathComponent("comparison.csv"))
        let svg = AccuracyPlot(title: title, series: results.map { .init(name: $0.0.label, values: Self.curve($0.1)) }).svg()
        try FeatureCacheFiles.writeAtomically(Data(svg.utf8), to: directory.appendingPathComponent("comparison.svg"))
        let report = HTMLReport(title: title, header: Self.header, rows: rows, plotSVG: svg, notes: [
            "Accuracies in percent on the test samples of all classes seen so far; Avg = mean of A_t over tasks, Last = final A_t.",
            "joint is trained once on all classes: it has one point (the last task) and no forgetting.",
            "Each row's run directory (config.json, metrics.json, tasks.csv, adapter weights per task) is a sub-folder of this one.",
        ])
        try FeatureCacheFiles.writeAtomically(Data(report.html().utf8), to: directory.appendingPathComponent("report.html"))
    }
}
