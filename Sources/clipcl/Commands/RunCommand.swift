import Continual
import Foundation

/// Every config key is also a flag with the same name (`--rho 0.1` is `--set rho=0.1`, `--attention.heads 8` is
/// `--set attention.heads=8`): one spelling for config files, flags, `--set` and `--grid`.
let configKeyOptions: [OptionSpec] = ExperimentConfig.experimentKeys.map { OptionSpec.option($0.key, "VALUE", $0.help) }
    + runConfigKeyOptions

/// The method's keys alone (`clipcl learn` has no benchmark keys).
let runConfigKeyOptions: [OptionSpec] = RunConfig.keys.map { key in
    OptionSpec.option(key, "VALUE", (RunConfig.help(of: key) ?? "") + " (" + (RunConfig.typeDescription(of: key) ?? "") + ")")
}

let runOptions: [OptionSpec] = [
    .option("config", "FILE", "Experiment config (JSON); flags and --set override it"),
    .repeated("set", "KEY=VALUE", "Override any config key, e.g. --set attention.heads=8 (same names as the flags below)"),
    .option("out", "DIR", "Run directory (default runs/<name>)"),
    .flag("resume", "Continue an interrupted run in --out from its last completed task"),
    .flag("json", "Print metrics.json's summary on stdout"),
] + configKeyOptions

/// Builds the experiment config from --config, the key flags and --set (in that order); prints a note for every
/// key given in an old spelling.
func experimentConfig(_ args: ParsedArguments) throws -> ExperimentConfig {
    var config = ExperimentConfig()
    if let path = args.string("config") {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UsageError(message: "cannot read config file \(path)", command: args.command)
        }
        var notes: [String] = []
        config = try ExperimentConfig.decode(data, source: path, notes: &notes)
        notes.forEach(printError)
    }
    for o in configKeyOptions {
        if let v = args.string(o.name), let note = try config.set("\(o.name)=\(v)") { printError(note) }
    }
    for assignment in args.strings("set") {
        if let note = try config.set(assignment) { printError(note) }
    }
    return config
}

/// `clipcl run`: one experiment (all its seeds) into a run directory.
enum RunCommand: Command {
    static let name = "run"
    static let summary = "Train and evaluate a continual-learning method on cached features."
    static let usage = "clipcl run --config configs/NAME.json [--set key=value]... [--out runs/NAME] [--resume] [flags]"
    static let options = runOptions

    static func run(_ args: ParsedArguments) throws {
        let config = try experimentConfig(args)
        let out = URL(fileURLWithPath: args.string("out") ?? "runs/\(config.name)")
        var experiment = Experiment(config: config, directory: out, resume: args.flag("resume"))
        let quiet = args.flag("json")
        experiment.log = { line in if !quiet || line.contains("resuming") { printError(line) } }
        let summary = try experiment.run()
        if args.flag("json") {
            try printJSON(summary)
        } else {
            print(Comparison.table([(config.name, summary)]))
            print("\nwrote \(out.path)/metrics.json, tasks.csv, report.html")
        }
    }
}

/// `clipcl sweep`: a grid of configs over one cache; prints a table and writes a CSV.
enum SweepCommand: Command {
    static let name = "sweep"
    static let summary = "Run a grid of configs (e.g. retention × rho × method × seeds) and tabulate Avg/Last."
    static let usage = "clipcl sweep --config C --grid KEY=V1,V2... [--grid ...] [--out DIR] [--shard i/n | --collect] [flags]"
    static let options = runOptions.filter { $0.name != "resume" } + [
        .repeated("grid", "KEY=V1,V2", "A key and the values to sweep (repeatable; the grid is their product)"),
        .option("shard", "i/n", "Run only the grid points p with p % n == i, into their own sub-folders of --out (one process of n; no table)"),
        .flag("collect", "Train nothing: build the table, CSV and report from the points' sub-folders (after --shard processes)"),
    ]

    static func run(_ args: ParsedArguments) throws {
        let base = try experimentConfig(args)
        var axes: [(key: String, values: [String])] = []
        for g in args.strings("grid") {
            guard let eq = g.firstIndex(of: "="), eq != g.startIndex else {
                throw UsageError(message: "--grid expects KEY=V1,V2,..., got '\(g)'", command: name)
            }
            let values = g[g.index(after: eq)...].split(separator: ",").map(String.init)
            guard !values.isEmpty else { throw UsageError(message: "--grid \(g) has no values", command: name) }
            axes.append((String(g[..<eq]), values))
        }
        guard !axes.isEmpty else { throw UsageError(message: "give at least one --grid KEY=V1,V2", command: name) }
        var combos: [[(String, String)]] = [[]]
        for axis in axes { combos = combos.flatMap { c in axis.values.map { c + [(axis.key, $0)] } } }
        var entries: [Comparison.Entry] = []
        var notes: Set<String> = []
        for combo in combos {
            var c = base
            for (k, v) in combo { if let note = try c.set("\(k)=\(v)"), notes.insert(note).inserted { printError(note) } }
            let label = combo.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
            c.name = label
            entries.append(.init(label: label, config: c))
        }
        let out = URL(fileURLWithPath: args.string("out") ?? "runs/sweep-\(base.name)")
        var comparison = Comparison(title: "sweep: \(base.name)", entries: entries, directory: out)
        comparison.log = { line in if line.hasPrefix("[") || line.contains(": Avg") { printError(line) } }
        if let raw = args.string("shard") {
            guard !args.flag("collect") else { throw UsageError(message: "--shard and --collect exclude each other", command: name) }
            let parts = raw.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, (0..<n).contains(i) else {
                throw UsageError(message: "--shard expects i/n with 0 <= i < n, got '\(raw)'", command: name)
            }
            comparison.part = (i, n)
        }
        comparison.collect = args.flag("collect")
        let results = try comparison.run()
        if comparison.part != nil {
            print("ran \(results.count) of \(entries.count) grid points into \(out.path); collect them with --collect")
            return
        }
        if args.flag("json") {
            try printJSON(results.map { SweepRow(label: $0.0.label, summary: $0.1) })
        } else {
            print(Comparison.table(results.map { ($0.0.label, $0.1) }))
            print("\nwrote \(out.path)/comparison.csv, report.html")
        }
    }

    struct SweepRow: Encodable {
        let label: String
        let summary: RunSummary
    }
}
