import Continual
import Foundation
import Testing
import TensorKit

/// Learning test on structured synthetic embeddings (`SyntheticSpec` defaults, data seed 1):
/// D = 32, 10 classes, 5 tasks of 2 (B0 Inc2), identity init, default protocol (Adam lr 1e-3,
/// 15 epochs, milestones [4, 10], γ 0.1, batch 100), training seed 2, and the loss over all seen classes set
/// explicitly: the regime this test is about, where plain fine-tuning drifts towards the newest classes. (With the
/// default `loss-classes = auto`, i.e. the current task's classes without replay, fine-tuning ends at Last 95.8
/// here, above top-k's 87.2.)
/// Prints the table for the integrator. (The attention adapter is exercised in
/// `AttentionAdapterTests` on a smaller run: its debug-build cost would dominate this suite.)
///
/// What is asserted, and how general it is (sweep over data seeds 1–8 with these settings, run
/// while writing this test): top-k retention with ρ = 0.1 ended above plain fine-tuning on Last
/// for 7 of 8 data seeds (margins −9.8 … +29 points; seed 1: about +29), and joint training was
/// ≥ both for 8 of 8. With ρ = 0.3 top-k won 5 of 8. `soft` with b = 0.6 stays within a point
/// of fine-tuning here: Adam's updates have nearly uniform |Δ|, so M = min(1, |Δ|/max|Δ| + 0.6)
/// is ≈ 1 almost everywhere.
@Suite struct LearningTests {
    @Test func retentionBeatsFinetuneAndJointIsUpperBound() throws {
        let features = try SyntheticSpec().make()
        var rows: [(String, RunResult)] = []
        func run(_ name: String, _ config: RunConfig) throws -> RunResult {
            var config = config
            config.lossClasses = .seen
            let (result, _) = try runToEnd(config, features: features)
            rows.append((name, result))
            return result
        }
        var topkConfig = syntheticConfig(.linear, retention: .topk)
        topkConfig.rho = 0.1

        let zeroshot = try run("zeroshot", syntheticConfig(.zeroshot))
        let ncm = try run("ncm", syntheticConfig(.ncm))
        let finetune = try run("finetune (linear, no PR)", syntheticConfig(.finetune))
        let topk = try run("linear + topk ρ=0.1", topkConfig)
        let soft = try run("linear + soft b=0.6", syntheticConfig(.linear, retention: .soft))
        let softSVD = try run("linear + soft-svd b=0.6", syntheticConfig(.linear, retention: .softSVD))
        let joint = try run("joint (single row)", syntheticConfig(.joint))

        print("method                         |   Avg  |  Last  | Forget |   BWT  | seconds | A_t after each task")
        for (name, r) in rows {
            let f = r.forgetting.map { String(format: "%6.2f", $0) } ?? "   –  "
            let b = r.bwt.map { String(format: "%6.2f", $0) } ?? "   –  "
            let curve = r.records.map { String(format: "%.1f", $0.accuracy) }.joined(separator: " ")
            print(name.padding(toLength: 30, withPad: " ", startingAt: 0)
                  + String(format: " | %6.2f | %6.2f | ", r.avg, r.last) + f + " | " + b
                  + String(format: " | %7.2f | ", r.timings.total) + curve)
        }

        for r in [zeroshot, ncm, finetune, topk, soft, softSVD] {
            #expect(r.records.count == 5 && r.complete && r.last > 10, "\(r.method): \(r.last)")
        }
        #expect(topk.last > finetune.last + 5, "topk Last \(topk.last) should beat finetune \(finetune.last)")
        #expect(joint.records.count == 1 && joint.records[0].accuracies.count == 5)
        for r in [topk, soft, softSVD, finetune] {
            #expect(joint.last >= r.last, "joint \(joint.last) should be ≥ \(r.method): \(r.last)")
        }
        // Identity init: before any change the linear adapter reproduces zero-shot, so task 0 of
        // finetune starts from the zero-shot accuracy and training can only have helped there.
        #expect(finetune.records[0].accuracy >= zeroshot.records[0].accuracy)
    }
}
