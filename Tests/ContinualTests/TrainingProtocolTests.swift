import Continual
import Foundation
import Testing
import TensorKit

@Suite struct TrainingProtocolTests {
    func features() throws -> FeatureSet {
        var spec = SyntheticSpec()
        spec.trainPerClass = 30
        spec.testPerClass = 5
        spec.dimension = 8
        return try spec.make()
    }

    /// Learning rates seen in the step events of task 0 (one entry per step).
    func learningRates(_ config: RunConfig) throws -> [[Float]] {
        let fs = try features()
        let runner = try ContinualRunner(config: config, classOrder: Array(0..<10), features: fs)
        var method = try runner.makeMethod(seed: 1)
        var lrs: [[Float]] = Array(repeating: [], count: config.epochs)
        _ = try runner.run(method: &method, seed: 1, stopAfterTask: 0, log: { event in
            if case let .step(_, epoch, _, _, lr) = event { lrs[epoch].append(lr) }
        })
        return lrs
    }

    @Test func multiStepIsPerEpoch() throws {
        // 60 samples of task 0, batch 25 ⇒ 3 steps per epoch; milestones [2, 4], γ 0.1, lr 1e-3:
        // epochs 0–1 → 1e-3, epochs 2–3 → 1e-4, epoch 4 → 1e-5 (torch MultiStepLR stepped per epoch).
        var c = syntheticConfig(.finetune)
        c.epochs = 5
        c.batchSize = 25
        c.milestones = [2, 4]
        let lrs = try learningRates(c)
        #expect(lrs.map(\.count) == [3, 3, 3, 3, 3])
        let expected: [Float] = [1e-3, 1e-3, 1e-3 * 0.1, 1e-3 * 0.1, 1e-3 * 0.010000001]
        for (epoch, rates) in lrs.enumerated() {
            #expect(rates.allSatisfy { abs($0 - expected[epoch]) <= 1e-9 }, "epoch \(epoch): \(rates)")
        }
    }

    @Test func cosineWithWarmupIsPerStep() throws {
        // 3 steps per epoch, 4 epochs = 12 steps, warm-up 1 epoch = 3 steps:
        // steps 0, 1, 2 → lr·(1/3, 2/3, 1); then ½(1 + cos(π·(s − 3)/9)) for s = 3…11.
        var c = syntheticConfig(.finetune)
        c.epochs = 4
        c.batchSize = 25
        c.schedule = .cosine
        c.warmupEpochs = 1
        c.optimizer = .sgd
        c.lr = 0.1
        let flat = try learningRates(c).flatMap { $0 }
        #expect(flat.count == 12)
        for (s, lr) in flat.enumerated() {
            let progress = Double(s - 3) / 9
            let factor: Double = s < 3 ? Double(s + 1) / 3 : 0.5 * (1 + cos(Double.pi * progress))
            #expect(abs(Double(lr) - 0.1 * factor) < 1e-6, "step \(s): \(lr)")
        }
    }

    @Test func currentTaskLossAndOtherOptimisersRun() throws {
        let fs = try features()
        for optimizer in OptimizerKind.allCases {
            var c = syntheticConfig(.linear, retention: .soft)
            c.lossClasses = .current
            c.optimizer = optimizer
            c.weightDecay = 1e-4
            c.schedule = .constant
            c.epochs = 2
            let runner = try ContinualRunner(config: c, classOrder: Array(0..<10), features: fs)
            let context = try runner.makeContext(task: 3)
            #expect(context.lossClasses == [6, 7] && context.seenClasses == Array(0..<8))
            var method = try runner.makeMethod(seed: 1)
            let result = try runner.run(method: &method, seed: 1)
            #expect(result.complete && result.records.allSatisfy { $0.trainLoss?.isFinite == true })
        }
    }
}
