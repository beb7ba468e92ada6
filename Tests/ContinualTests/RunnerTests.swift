import Continual
import Foundation
import Testing
import TensorKit

/// A small, fast synthetic set for runner behaviour (not for learning claims).
private func smallFeatures() throws -> FeatureSet {
    var spec = SyntheticSpec()
    spec.trainPerClass = 40
    spec.testPerClass = 10
    spec.dimension = 16
    return try spec.make()
}

private func smallConfig(_ method: MethodKind = .linear, retention: RetentionKind = .topk) -> RunConfig {
    var c = syntheticConfig(method, retention: retention)
    c.epochs = 3
    c.milestones = [2]
    c.batchSize = 32
    return c
}

/// Everything but the wall-clock timings, as one comparable value.
private func withoutTimings(_ r: RunResult) -> RunResult {
    var r = r
    r.timings = TaskTimings()
    for i in r.records.indices { r.records[i].seconds = TaskTimings() }
    return r
}

private func bitPatterns(_ p: [String: Tensor]) -> [String: [UInt32]] {
    p.mapValues { $0.storage.map(\.bitPattern) }
}

private func bitPatterns(_ r: RunResult) -> [UInt64] {
    r.records.flatMap { $0.accuracies.map(\.bitPattern) + [$0.accuracy.bitPattern] }
        + r.records.flatMap { $0.epochLosses.map { UInt64($0.bitPattern) } }
        + [r.avg.bitPattern, r.last.bitPattern, r.forgetting?.bitPattern ?? 0, r.bwt?.bitPattern ?? 0]
}

@Suite struct DeterminismTests {
    @Test func sameSeedGivesIdenticalBits() throws {
        let features = try smallFeatures()
        for config in [smallConfig(.linear, retention: .topk), smallConfig(.linear, retention: .softSVD)] {
            let (a, pa) = try runToEnd(config, features: features, seed: 7)
            let (b, pb) = try runToEnd(config, features: features, seed: 7)
            #expect(withoutTimings(a) == withoutTimings(b))
            #expect(bitPatterns(a) == bitPatterns(b))
            #expect(bitPatterns(pa) == bitPatterns(pb))
            // A different seed shuffles differently, so the training trajectory differs.
            let (c, pc) = try runToEnd(config, features: features, seed: 8)
            #expect(bitPatterns(pa) != bitPatterns(pc))
            #expect(a.records.map(\.epochLosses) != c.records.map(\.epochLosses))
        }
    }

    @Test func identityLinearAdapterReproducesZeroShot() throws {
        let features = try smallFeatures()
        let runner = try ContinualRunner(config: smallConfig(), classOrder: Array(0..<10), features: features)
        let context = try runner.makeContext(task: 4)
        var rng = RandomGenerator(seed: 1)
        let linear = LinearAdapter(dimension: 16, classCount: 10, config: smallConfig(), rng: &rng)
        let a = try linear.logits(features: features.testFeatures, seenClasses: context.seenClasses, context: context)
        let b = try ZeroShot().logits(features: features.testFeatures, seenClasses: context.seenClasses, context: context)
        #expect(a.storage.map(\.bitPattern) == b.storage.map(\.bitPattern))
    }
}

@Suite struct ResumeTests {
    /// Full run of 5 tasks vs. 2 tasks + save (safetensors + JSON) + fresh runner and method + resume.
    func checkResume(_ config: RunConfig, features: FeatureSet, seed: UInt64 = 3) throws {
        let classOrder = [4, 7, 1, 9, 0, 2, 8, 3, 6, 5]
        let dimension = features.dimension
        let (full, fullParameters) = try runToEnd(config, features: features, classOrder: classOrder, seed: seed)

        // First half: tasks 0 and 1, saved to disk after each task by the hook.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("continual-resume-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let weightsURL = directory.appendingPathComponent("adapter.safetensors")
        let resultURL = directory.appendingPathComponent("result.json")
        do {
            let runner = try ContinualRunner(config: config, classOrder: classOrder, features: features)
            var method = try MethodFactory.make(config: config, dimension: dimension, classCount: 10, seed: seed)
            let partial = try runner.run(method: &method, seed: seed, stopAfterTask: 1, afterTask: { _, method, result in
                var writer = SafeTensorsWriter()
                for (name, tensor) in method.parameters { try writer.add(name, tensor) }
                try writer.write(to: weightsURL)
                try JSONEncoder().encode(result).write(to: resultURL)
            })
            #expect(partial.records.count == 2 && !partial.complete)
            #expect(withoutTimings(partial).accuracyMatrix == Array(full.accuracyMatrix.prefix(2)))
        }

        // Second half: everything rebuilt from the files.
        let file = try SafeTensorsFile(contentsOf: weightsURL)
        var parameters: [String: Tensor] = [:]
        for name in file.names { parameters[name] = try file.tensor(name) }
        let saved = try JSONDecoder().decode(RunResult.self, from: Data(contentsOf: resultURL))
        let runner = try ContinualRunner(config: config, classOrder: classOrder, features: features)
        var method = try MethodFactory.make(config: config, dimension: dimension, classCount: 10, seed: seed)
        var resumedTasks: [Int] = []
        let resumed = try runner.run(method: &method, seed: seed,
                                     resume: .init(result: saved, parameters: parameters),
                                     afterTask: { t, _, _ in resumedTasks.append(t) })
        #expect(resumedTasks == [2, 3, 4])
        #expect(resumed.complete && resumed.records.count == 5)
        #expect(withoutTimings(resumed) == withoutTimings(full))
        #expect(bitPatterns(resumed) == bitPatterns(full))
        #expect(bitPatterns(method.parameters) == bitPatterns(fullParameters))
    }

    @Test func linearTopKResumesBitForBit() throws {
        try checkResume(smallConfig(.linear, retention: .topk), features: try smallFeatures())
    }

    @Test func attentionSoftSVDResumesBitForBit() throws {
        var c = smallConfig(.attention, retention: .softSVD)
        c.attention.tokens = 2
        c.attention.heads = 2
        c.epochs = 2
        try checkResume(c, features: try smallFeatures())
    }

    @Test func ncmResumes() throws {
        try checkResume(smallConfig(.ncm), features: try smallFeatures())
    }

    @Test(arguments: [MethodKind.simplecil, .fecam, .ranpac])
    func trainingFreeMethodsResumeBitForBit(_ method: MethodKind) throws {
        var c = smallConfig(method)
        c.ranpac.dim = 48
        try checkResume(c, features: try smallFeatures())
    }

    /// RAPF, and the seed method with replay: the replayed samples come from the run's generator, so a resumed run
    /// draws the same ones.
    @Test func replayResumesBitForBit() throws {
        var rapf = smallConfig(.rapf)
        rapf.rapf.threshold = 2   // every (old, new) pair is a hard pair: the hinge runs
        try checkResume(rapf, features: try smallFeatures())
        var seed = smallConfig(.linear, retention: .topk)
        seed.replay = .gaussian
        try checkResume(seed, features: try smallFeatures())
    }

    @Test func resumeRejectsAMismatchedRun() throws {
        let features = try smallFeatures()
        let config = smallConfig()
        let runner = try ContinualRunner(config: config, classOrder: Array(0..<10), features: features)
        var method = try MethodFactory.make(config: config, dimension: 16, classCount: 10, seed: 1)
        let partial = try runner.run(method: &method, seed: 1, stopAfterTask: 0)
        var fresh = try MethodFactory.make(config: config, dimension: 16, classCount: 10, seed: 2)
        #expect(throws: ContinualError.invalidResume("saved seed 1 ≠ 2")) {
            try runner.run(method: &fresh, seed: 2, resume: .init(result: partial, parameters: method.parameters))
        }
        var wrongShape = method.parameters
        wrongShape["weight"] = Tensor.identity(3)
        #expect(throws: ContinualError.self) {
            try runner.run(method: &fresh, seed: 1, resume: .init(result: partial, parameters: wrongShape))
        }
    }
}

@Suite struct NonFiniteTests {
    @Test func nanFeatureStopsWithTaskEpochStep() throws {
        var features = try smallFeatures()
        // Row 3 has label 3 (classes interleaved), which belongs to task 1 in B0 Inc2.
        #expect(features.trainLabels[3] == 3)
        features.trainFeatures.storage[3 * 16 + 5] = .nan
        do {
            _ = try runToEnd(smallConfig(), features: features)
            Issue.record("a NaN feature must stop the run")
        } catch let error as ContinualError {
            guard case let .nonFinite(what, task, epoch, step) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(what == "input features" && task == 1 && epoch == 0 && step >= 0)
            #expect("\(error)".contains("task 1, epoch 0, step \(step)"))
        }
    }

    @Test func hugeLearningRateOverflowsParameters() throws {
        var config = smallConfig()
        config.lr = 1e38 // finite, passes validation; Adam's bias-corrected step overflows to inf
        #expect(throws: ContinualError.nonFinite(what: "parameter \"weight\"", task: 0, epoch: 0, step: 0)) {
            _ = try runToEnd(config, features: try smallFeatures())
        }
    }

    @Test func infiniteLearningRateIsAConfigError() throws {
        var config = smallConfig()
        config.lr = .infinity
        #expect(throws: ContinualError.invalidConfig(key: "lr", reason: "must be finite and ≥ 0, got inf")) {
            _ = try runToEnd(config, features: try smallFeatures())
        }
    }
}
