import Datasets
import Foundation
import Testing
@testable import Continual
@testable import TensorKit

/// Run directories: outputs, resume after an interruption, refusal to overwrite, config files.
@Suite(.serialized) struct ExperimentTests {
    /// A feature cache on disk holding the synthetic learning-test features.
    func makeCache(_ dir: URL) throws {
        let f = try SyntheticSpec().make()
        _ = try FeatureCacheImporter.write(
            into: dir, dataset: "synthetic", classNames: f.classNames, logitScale: f.logitScale, modelID: "synthetic",
            dtype: .f32, chunkSize: 256, train: ImportSplit(features: f.trainFeatures, labels: f.trainLabels),
            test: ImportSplit(features: f.testFeatures, labels: f.testLabels), textFeatures: f.textFeatures, templates: ["{}"])
    }

    func temporaryDirectory() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("clipcl-exp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    func config(_ cache: URL) throws -> ExperimentConfig {
        var c = ExperimentConfig()
        c.name = "t"
        c.features = cache.path
        for s in ["increment=2", "epochs=3", "batch-size=50", "seeds=0,1", "rho=0.1"] { try c.set(s) }
        return c
    }

    @Test func interruptedRunResumesToIdenticalMetrics() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try makeCache(root.appendingPathComponent("cache"))
        let c = try config(root.appendingPathComponent("cache"))

        let full = try Experiment(config: c, directory: root.appendingPathComponent("full"), resume: false).run()

        // Stop after task 1 (as a kill between tasks would), then resume to the end.
        var partial = Experiment(config: c, directory: root.appendingPathComponent("resumed"), resume: false)
        partial.stopAfterTask = 1
        _ = try partial.run()
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("resumed/metrics.json").path))
        // Without --resume an existing run directory is refused.
        #expect(throws: ContinualError.self) {
            try Experiment(config: c, directory: root.appendingPathComponent("resumed"), resume: false).run()
        }
        let resumed = try Experiment(config: c, directory: root.appendingPathComponent("resumed"), resume: true).run()

        #expect(resumed.runs.map(\.accuracyMatrix) == full.runs.map(\.accuracyMatrix))
        #expect(resumed.avg == full.avg && resumed.last == full.last && resumed.forgetting == full.forgetting)
        for seed: UInt64 in [0, 1] {
            let a = try SafeTensorsFile(contentsOf: root.appendingPathComponent("full/seed-\(seed)/adapter-task-4.safetensors"))
            let b = try SafeTensorsFile(contentsOf: root.appendingPathComponent("resumed/seed-\(seed)/adapter-task-4.safetensors"))
            #expect(try a.tensor("weight").storage.map(\.bitPattern) == b.tensor("weight").storage.map(\.bitPattern))
        }
        for file in ["config.json", "metrics.json", "tasks.csv", "report.html", "accuracy.svg", "log.txt"] {
            #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("resumed/\(file)").path), "\(file)")
        }
        // metrics.json carries the keys users read, and its numbers follow from the seeds' own result.json files:
        // mean and sample standard deviation over seeds, the element-wise mean matrix; tasks.csv has every
        // seed's per-task accuracies.
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("full/metrics.json"))) as! [String: Any]
        for key in ["avg", "last", "accuracy_matrix", "per_task", "forgetting", "bwt", "timings"] { #expect(json[key] != nil, "\(key)") }
        let seeds = try [0, 1].map { seed in
            try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("full/seed-\(seed)/result.json"))) as! [String: Any]
        }
        for key in ["avg", "last"] {
            let values = seeds.map { $0[key] as! Double }
            let mean = (values[0] + values[1]) / 2
            let std = abs(values[0] - values[1]) / 2.0.squareRoot()   // sample std of two values
            #expect(abs(json[key] as! Double - mean) < 1e-9, "\(key)")
            #expect(abs(json[key + "_std"] as! Double - std) < 1e-9, "\(key)_std")
            #expect(values[0] != values[1], "the two seeds should differ, or the std check proves nothing")
        }
        let matrices = seeds.map { $0["accuracyMatrix"] as! [[Double]] }
        let mean = json["accuracy_matrix"] as! [[Double]]
        #expect(mean.count == 5 && mean.map(\.count) == [1, 2, 3, 4, 5])
        for t in mean.indices { for k in mean[t].indices {
            #expect(abs(mean[t][k] - (matrices[0][t][k] + matrices[1][t][k]) / 2) < 1e-9, "[\(t)][\(k)]")
        } }
        let csv = try String(contentsOf: root.appendingPathComponent("full/tasks.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(csv.first?.prefix(3) == ["seed", "task", "accuracy"])
        #expect(csv.count == 1 + 2 * 5)
        for row in csv.dropFirst() {
            let seed = Int(row[0])!, task = Int(row[1])!
            let record = (seeds[seed]["records"] as! [[String: Any]])[task]
            #expect(row[2] == String(format: "%.4f", record["accuracy"] as! Double), "seed \(seed) task \(task)")
            #expect(row.suffix(task + 1).map { Double($0)! } == matrices[seed][task].map { (($0 * 1e4).rounded()) / 1e4 })
        }

        // Resuming with a different config is refused.
        var other = c
        try other.set("rho=0.5")
        #expect(throws: ContinualError.self) {
            try Experiment(config: other, directory: root.appendingPathComponent("resumed"), resume: true).run()
        }
        // The demo replaces it instead: the result is that of a fresh run of the new config, with no file of the old.
        let fresh = try Experiment(config: other, directory: root.appendingPathComponent("fresh"), resume: false).run()
        var replacing = Experiment(config: other, directory: root.appendingPathComponent("resumed"), resume: true)
        replacing.replacesChangedRun = true
        let replaced = try replacing.run()
        #expect(replaced.runs.map(\.accuracyMatrix) == fresh.runs.map(\.accuracyMatrix))
        #expect(try RunDirectory(root.appendingPathComponent("resumed")).savedConfig() == (try other.resolvedForSaving()))
        let log = { (dir: String) in try String(contentsOf: root.appendingPathComponent(dir + "/log.txt"), encoding: .utf8) }
        #expect(try log("resumed") == (try log("fresh")))
    }

    /// A config that cannot run (here: no cache at its features path) fails before its run directory exists.
    /// `clipcl sweep --shard i/n` processes, then `--collect`, give the one-process sweep's table; a missing point
    /// is an error naming it, and nothing is trained by --collect.
    @Test func shardedSweepCollectsToTheOneProcessTable() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try makeCache(root.appendingPathComponent("cache"))
        var base = try config(root.appendingPathComponent("cache"))
        try base.set("epochs=1")
        let entries = try ["zeroshot", "ncm", "linear"].map { m -> Comparison.Entry in
            var c = base
            _ = try c.set("method=\(m)")
            c.name = "method=\(m)"
            return .init(label: c.name, config: c)
        }
        func csv(_ dir: String) throws -> [[Substring]] {
            // Every column but the training time.
            try String(contentsOf: root.appendingPathComponent("\(dir)/comparison.csv"), encoding: .utf8)
                .split(separator: "\n").map { Array($0.split(separator: ",", omittingEmptySubsequences: false).dropLast()) }
        }
        try Comparison(title: "t", entries: entries, directory: root.appendingPathComponent("one")).run()

        let sharded = root.appendingPathComponent("sharded")
        var first = Comparison(title: "t", entries: entries, directory: sharded)
        first.part = (0, 2)
        #expect(try first.run().map(\.0.label) == ["method=zeroshot", "method=linear"])
        #expect(!FileManager.default.fileExists(atPath: sharded.appendingPathComponent("comparison.csv").path))
        var collect = Comparison(title: "t", entries: entries, directory: sharded)
        collect.collect = true
        var missing = "collected"
        do { try collect.run() } catch { missing = "\(error)" }
        #expect(missing.contains("method=ncm") && missing.contains("holds no run") && !missing.contains("\n"), "\(missing)")
        #expect(!FileManager.default.fileExists(atPath: sharded.appendingPathComponent("method=ncm").path), "--collect created a run")
        var second = Comparison(title: "t", entries: entries, directory: sharded)
        second.part = (1, 2)
        try second.run()
        try collect.run()
        let one = try csv("one"), collected = try csv("sharded")
        #expect(one.count == 4 && one == collected, "\(one) vs \(collected)")
    }

    @Test func aBadFeaturesPathLeavesNoRunDirectory() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let c = try config(root.appendingPathComponent("no-such-cache"))
        #expect(throws: (any Error).self) {
            try Experiment(config: c, directory: root.appendingPathComponent("run"), resume: false).run()
        }
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("run").path))
    }

    @Test func configOverridesAndErrorsNameTheKey() throws {
        var c = ExperimentConfig()
        try c.set("class-order=seed:1993")
        #expect(c.classOrder == .seeded(1993))
        try c.set("run.attention.heads=8")
        #expect(c.run.attention.heads == 8)
        do {
            try c.set("nosuchkey=1")
            Issue.record("unknown key accepted")
        } catch {
            #expect("\(error)".contains("nosuchkey"))
        }
        let decoded = try ExperimentConfig.decode(try c.encoded(), source: "round trip")
        #expect(decoded == (try c.resolvedForSaving()))
    }

    /// Every shipped config parses, validates and names a known benchmark.
    @Test func shippedConfigsAreValid() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("configs")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }
        #expect(files.count >= 8)
        for f in files {
            let c = try ExperimentConfig.decode(Data(contentsOf: dir.appendingPathComponent(f)), source: f)
            try c.run.validate()
            let dataset = String(f.prefix { $0 != "." }.split(separator: "-b").first ?? "")
            let benchmark = try Benchmark.named(dataset)
            let n = try #require(try benchmark.classNames()).count
            let first = c.run.initial == 0 ? c.run.increment : c.run.initial
            #expect((n - first) % c.run.increment == 0, "\(f): \(n) classes do not split into B\(c.run.initial)Inc\(c.run.increment)")
        }
    }

    static let configsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("configs")

    /// RAPF's published settings (its configs/class/*.yaml, quoted in issue 12) in the shipped configs.
    @Test func shippedConfigsCarryRAPFsValues() throws {
        func run(_ f: String) throws -> RunConfig {
            try ExperimentConfig.decode(Data(contentsOf: Self.configsDirectory.appendingPathComponent(f)), source: f).run
        }
        let cifar = try run("cifar100-b0inc10.json"), inr = try run("imagenet-r-b0inc20.json")
        #expect(cifar.rapf.beta == 2 && cifar.bias == 0.6 && cifar.rapf.threshold == 0.55 && !cifar.rapf.shrinkage)
        #expect(inr.rapf.beta == 1 && inr.bias == 0.7 && inr.rapf.threshold == 0.65 && inr.rapf.shrinkage)
    }

    /// `--method rapf` and the training-free methods run with every shipped config's protocol (its class count,
    /// split and settings) on a cache of that many classes; RanPAC with a small projection to keep the test short.
    @Test(arguments: [MethodKind.rapf, .simplecil, .fecam, .ranpac])
    func shippedConfigsRunTheNewMethods(_ method: MethodKind) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.configsDirectory.path).filter { $0.hasSuffix(".json") }.sorted()
        for f in files {
            var c = try ExperimentConfig.decode(Data(contentsOf: Self.configsDirectory.appendingPathComponent(f)), source: f).run
            c.method = method
            c.epochs = 1
            c.ranpac.dim = 64
            let dataset = String(f.prefix { $0 != "." }.split(separator: "-b").first ?? "")
            let classes = try #require(try Benchmark.named(dataset).classNames()).count
            let features = try SyntheticSpec(dimension: 16, classes: classes, trainPerClass: 3, testPerClass: 2, shared: 1).make()
            let (result, _) = try runToEnd(c, features: features)
            let tasks = 1 + (classes - (c.initial == 0 ? c.increment : c.initial)) / c.increment
            #expect(result.accuracyMatrix.count == tasks, "\(f) \(method)")
            #expect(result.avg.isFinite && result.avg > 0 && result.avg <= 100, "\(f) \(method): Avg \(result.avg)")
        }
    }

}
