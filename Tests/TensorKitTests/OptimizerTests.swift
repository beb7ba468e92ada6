import Foundation
import Testing
@testable import TensorKit

/// Element-wise closeness with a relative/absolute tolerance suited to Float32 arithmetic.
private func approximatelyEqual(_ a: [Float], _ b: [Float], tolerance: Float = 2e-6) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($1)) }
}

@Suite struct SGDTests {
    @Test func plainStep() throws {
        // p ← p − lr·g: [1, 2] − 0.5·[0.2, −0.4] = [0.9, 2.2]
        var sgd = SGD()
        var params = [Tensor([1, 2])]
        try sgd.step(parameters: &params, gradients: [Tensor([0.2, -0.4])], learningRate: 0.5)
        #expect(approximatelyEqual(params[0].storage, [0.9, 2.2]))
        #expect(sgd.stateTensors.isEmpty)
    }

    @Test func momentumWithWeightDecay() throws {
        // momentum 0.9, weight decay 0.1, lr 0.1, p = [1, −2]
        // step 1, g = [0.5, 1]:  d = g + 0.1p = [0.6, 0.8];  b = d = [0.6, 0.8]
        //                        p = p − 0.1b = [0.94, −2.08]
        // step 2, g = [−1, 0.5]: d = [−1 + 0.094, 0.5 − 0.208] = [−0.906, 0.292]
        //                        b = 0.9·[0.6, 0.8] + d = [−0.366, 1.012]
        //                        p = [0.94 + 0.0366, −2.08 − 0.1012] = [0.9766, −2.1812]
        var sgd = SGD(momentum: 0.9, weightDecay: 0.1)
        var params = [Tensor([1, -2])]
        try sgd.step(parameters: &params, gradients: [Tensor([0.5, 1])], learningRate: 0.1)
        #expect(approximatelyEqual(params[0].storage, [0.94, -2.08]))
        try sgd.step(parameters: &params, gradients: [Tensor([-1, 0.5])], learningRate: 0.1)
        #expect(approximatelyEqual(params[0].storage, [0.9766, -2.1812]))
        #expect(approximatelyEqual(sgd.stateTensors["0.momentum_buffer"]!.storage, [-0.366, 1.012]))
    }

    @Test func nesterov() throws {
        // momentum 0.5, lr 0.1, p = [1, 2, 3]
        // step 1, g = [1, −1, 2]:  b = g;  g' = g + 0.5b = [1.5, −1.5, 3];  p = [0.85, 2.15, 2.7]
        // step 2, g = [2, 0, −2]:  b = 0.5·[1, −1, 2] + g = [2.5, −0.5, −1]
        //                          g' = g + 0.5b = [3.25, −0.25, −2.5];  p = [0.525, 2.175, 2.95]
        var sgd = SGD(momentum: 0.5, nesterov: true)
        var params = [Tensor([1, 2, 3])]
        try sgd.step(parameters: &params, gradients: [Tensor([1, -1, 2])], learningRate: 0.1)
        #expect(approximatelyEqual(params[0].storage, [0.85, 2.15, 2.7]))
        try sgd.step(parameters: &params, gradients: [Tensor([2, 0, -2])], learningRate: 0.1)
        #expect(approximatelyEqual(params[0].storage, [0.525, 2.175, 2.95]))
    }

    @Test func dampeningIsSkippedOnTheFirstStep() throws {
        // momentum 0.9, dampening 0.5, lr 1, p = [0], g = [1] twice:
        // step 1: b = g = 1 (no dampening yet), p = −1
        // step 2: b = 0.9·1 + (1 − 0.5)·1 = 1.4, p = −2.4
        var sgd = SGD(momentum: 0.9, dampening: 0.5)
        var params = [Tensor([0])]
        try sgd.step(parameters: &params, gradients: [Tensor([1])], learningRate: 1)
        #expect(approximatelyEqual(params[0].storage, [-1]))
        try sgd.step(parameters: &params, gradients: [Tensor([1])], learningRate: 1)
        #expect(approximatelyEqual(params[0].storage, [-2.4]))
    }

    @Test func invalidConfigurations() throws {
        var params = [Tensor([1])]
        var nesterovWithoutMomentum = SGD(nesterov: true)
        #expect(throws: TensorError.self) {
            try nesterovWithoutMomentum.step(parameters: &params, gradients: [Tensor([1])], learningRate: 0.1)
        }
        var sgd = SGD()
        #expect(throws: TensorError.self) { try sgd.step(parameters: &params, gradients: [], learningRate: 0.1) }
        #expect(throws: TensorError.self) { try sgd.step(parameters: &params, gradients: [Tensor([1])], learningRate: -1) }
    }
}

@Suite struct AdamTests {
    @Test func twoStepsByHand() throws {
        // β1 0.9, β2 0.999, ε 1e−8, lr 0.1, p = [1, −1]
        // step 1, g = [0.5, −2]: m = 0.1g = [0.05, −0.2];  v = 0.001g² = [0.00025, 0.004]
        //   m̂ = m/0.1 = [0.5, −2];  v̂ = v/0.001 = [0.25, 4];  √v̂ = [0.5, 2]
        //   p = p − 0.1·m̂/(√v̂ + ε) = [0.9, −0.9]
        // step 2, g = [1, 1]: m = 0.9m + 0.1g = [0.145, −0.08]
        //   v = 0.999v + 0.001g² = [0.00124975, 0.004996]
        //   m̂ = m/(1 − 0.9²) = m/0.19 = [0.76315789, −0.42105263]
        //   v̂ = v/(1 − 0.999²) = v/0.001999 = [0.62518759, 2.49924962];  √v̂ = [0.79068805, 1.58090152]
        //   p = [0.9 − 0.1·0.96518200, −0.9 + 0.1·0.26633703] = [0.80348180, −0.87336630]
        var adam = Adam()
        var params = [Tensor([1, -1])]
        try adam.step(parameters: &params, gradients: [Tensor([0.5, -2])], learningRate: 0.1)
        #expect(approximatelyEqual(params[0].storage, [0.9, -0.9]))
        try adam.step(parameters: &params, gradients: [Tensor([1, 1])], learningRate: 0.1)
        #expect(approximatelyEqual(params[0].storage, [0.80348180, -0.87336630]))
        let state = adam.stateTensors
        #expect(state["0.step"] == Tensor(scalar: 2))
        #expect(approximatelyEqual(state["0.exp_avg"]!.storage, [0.145, -0.08]))
        #expect(approximatelyEqual(state["0.exp_avg_sq"]!.storage, [0.00124975, 0.004996]))
    }

    @Test func l2WeightDecayGoesIntoTheGradient() throws {
        // weight decay 0.1, lr 0.1, p = [2], g = [0] twice (only the decay term drives p)
        // step 1: g' = 0 + 0.1·2 = 0.2;  m = 0.02;  v = 0.001·0.04 = 4e−5
        //   m̂ = 0.2, v̂ = 0.04, √v̂ = 0.2  →  p = 2 − 0.1·(0.2/0.2) = 1.9
        // step 2: g' = 0.19;  m = 0.018 + 0.019 = 0.037;  v = 0.999·4e−5 + 0.001·0.0361 = 7.606e−5
        //   m̂ = 0.037/0.19 = 0.19473684;  v̂ = 7.606e−5/0.001999 = 0.03804902;  √v̂ = 0.19506159
        //   p = 1.9 − 0.1·0.99833550 = 1.80016645
        var adam = Adam(weightDecay: 0.1)
        var params = [Tensor([2])]
        try adam.step(parameters: &params, gradients: [Tensor([0])], learningRate: 0.1)
        #expect(approximatelyEqual(params[0].storage, [1.9]))
        try adam.step(parameters: &params, gradients: [Tensor([0])], learningRate: 0.1)
        #expect(approximatelyEqual(params[0].storage, [1.80016645]))
    }

    @Test func adamWDecouplesWeightDecay() throws {
        // weight decay 0.1, lr 0.1 → each step first p ← p·(1 − 0.01); p = [2, −1]
        // step 1, g = [0, 1]: p = [1.98, −0.99]; m = [0, 0.1]; v = [0, 0.001]
        //   element 0: m̂ = 0 → no Adam move: 1.98
        //   element 1: m̂ = 1, v̂ = 1 → p = −0.99 − 0.1 = −1.09
        // step 2, g = [1, 1]: p = [1.9602, −1.0791]
        //   element 0: m = 0.1, v = 0.001; m̂ = 0.1/0.19 = 0.52631579; v̂ = 0.001/0.001999 = 0.50025013
        //              √v̂ = 0.70728362; p = 1.9602 − 0.1·0.74413681 = 1.88578632
        //   element 1: m = 0.19, v = 0.001999; m̂ = 1, v̂ = 1 → p = −1.0791 − 0.1 = −1.1791
        var adamW = AdamW(weightDecay: 0.1)
        var params = [Tensor([2, -1])]
        try adamW.step(parameters: &params, gradients: [Tensor([0, 1])], learningRate: 0.1)
        #expect(approximatelyEqual(params[0].storage, [1.98, -1.09]))
        try adamW.step(parameters: &params, gradients: [Tensor([1, 1])], learningRate: 0.1)
        #expect(approximatelyEqual(params[0].storage, [1.88578632, -1.1791]))
    }

    @Test func nilGradientFreezesParameterAndItsStepCount() throws {
        // Parameter 1 has no gradient at step 1, so at step 2 it takes its own first step:
        // m̂ = g, v̂ = g², update = lr·g/(|g| + ε) ≈ lr·sign(g).
        var adam = Adam()
        var params = [Tensor([1]), Tensor([5, 6])]
        try adam.step(parameters: &params, gradients: [Tensor([1]), nil], learningRate: 0.1)
        #expect(params[1].storage == [5, 6])
        #expect(adam.stateTensors["1.step"] == nil)
        try adam.step(parameters: &params, gradients: [nil, Tensor([3, -0.5])], learningRate: 0.1)
        #expect(approximatelyEqual(params[0].storage, [0.9]))
        #expect(approximatelyEqual(params[1].storage, [4.9, 6.1]))
        #expect(adam.stateTensors["0.step"] == Tensor(scalar: 1))
        #expect(adam.stateTensors["1.step"] == Tensor(scalar: 1))

        var sgd = SGD(momentum: 0.9, weightDecay: 0.5)
        var frozen = [Tensor([1, 2])]
        try sgd.step(parameters: &frozen, gradients: [nil], learningRate: 1)
        #expect(frozen[0].storage == [1, 2])
        #expect(sgd.stateTensors.isEmpty)
    }

    @Test func shapeMismatchNamesOptimizerAndShapes() throws {
        var params = [Tensor([1, 2])]
        let wrong = [Tensor?.some(Tensor([1, 2, 3]))]
        func check(_ body: () throws -> Void, _ name: String) {
            do {
                try body()
                Issue.record("expected a shape mismatch")
            } catch let error as TensorError {
                guard case .shapeMismatch = error else { Issue.record("wrong case \(error)"); return }
                #expect(error.description.contains(name) && error.description.contains("[2]") && error.description.contains("[3]"), "\(error)")
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
        var sgd = SGD(); var adam = Adam(); var adamW = AdamW()
        check({ try sgd.step(parameters: &params, gradients: wrong, learningRate: 0.1) }, "SGD")
        check({ try adam.step(parameters: &params, gradients: wrong, learningRate: 0.1) }, "Adam")
        check({ try adamW.step(parameters: &params, gradients: wrong, learningRate: 0.1) }, "AdamW")
        #expect(params[0].storage == [1, 2])
    }

    /// Saving the state (through a safetensors file) and loading it into a fresh optimiser
    /// continues exactly as the uninterrupted run.
    @Test func stateSurvivesCheckpoint() throws {
        let grads: [[Tensor?]] = [
            [Tensor([0.1, -0.2]), Tensor([1, 2])],
            [Tensor([0.3, 0.1]), nil],
            [Tensor([-0.5, 0.4]), Tensor([0.5, -1])],
        ]
        func run<O: Optimizer>(_ make: () -> O) throws {
            var a = make()
            var pa = [Tensor([1, 2]), Tensor([3, 4])]
            for g in grads.prefix(2) { try a.step(parameters: &pa, gradients: g, learningRate: 0.05) }

            var writer = SafeTensorsWriter()
            for (k, v) in a.stateTensors { try writer.add(k, v) }
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("opt-\(UUID().uuidString).safetensors")
            defer { try? FileManager.default.removeItem(at: url) }
            try writer.write(to: url)
            let file = try SafeTensorsFile(contentsOf: url)
            var restored: [String: Tensor] = [:]
            for name in file.names { restored[name] = try file.tensor(name) }

            var b = make()
            try b.loadState(restored)
            var pb = pa
            try a.step(parameters: &pa, gradients: grads[2], learningRate: 0.05)
            try b.step(parameters: &pb, gradients: grads[2], learningRate: 0.05)
            #expect(pa == pb)
            #expect(a.stateTensors == b.stateTensors)
        }
        try run { SGD(momentum: 0.9, weightDecay: 0.01, nesterov: true) }
        try run { Adam(weightDecay: 0.01) }
        try run { AdamW() }

        var adam = Adam()
        #expect(throws: TensorError.self) { try adam.loadState(["0.bogus": Tensor(scalar: 1)]) }
        #expect(throws: TensorError.self) { try adam.loadState(["0.step": Tensor(scalar: 1)]) }
        #expect(throws: TensorError.self) { try adam.loadState(["x.step": Tensor(scalar: 1)]) }
        var sgd = SGD(momentum: 0.9)
        #expect(throws: TensorError.self) { try sgd.loadState(["0.exp_avg": Tensor([1])]) }
        // State whose shape no longer fits the parameter is refused at the next step.
        try sgd.loadState(["0.momentum_buffer": Tensor([1, 2, 3])])
        var p = [Tensor([1, 2])]
        #expect(throws: TensorError.self) { try sgd.step(parameters: &p, gradients: [Tensor([1, 1])], learningRate: 0.1) }
    }
}

@Suite struct ScheduleAndClippingTests {
    @Test func constant() {
        #expect(LRSchedule.constant.factor(atStep: 0) == 1)
        #expect(LRSchedule.constant.factor(atStep: 10_000) == 1)
    }

    @Test func multiStep() {
        // milestones [3, 6], γ 0.1: γ^(number of milestones ≤ step)
        let s = LRSchedule.multiStep(milestones: [6, 3], gamma: 0.1)
        #expect(s.factor(atStep: 0) == 1)
        #expect(s.factor(atStep: 2) == 1)
        #expect(abs(s.factor(atStep: 3) - 0.1) < 1e-7)
        #expect(abs(s.factor(atStep: 5) - 0.1) < 1e-7)
        #expect(abs(s.factor(atStep: 6) - 0.01) < 1e-8)
        #expect(abs(s.factor(atStep: 100) - 0.01) < 1e-8)
        // A repeated milestone counts twice, as in torch's MultiStepLR.
        #expect(abs(LRSchedule.multiStep(milestones: [2, 2], gamma: 0.5).factor(atStep: 2) - 0.25) < 1e-7)
    }

    @Test func cosine() {
        // warm-up 4, total 14, min 0.1
        let s = LRSchedule.cosine(warmupSteps: 4, totalSteps: 14, minFactor: 0.1)
        #expect(s.factor(atStep: 0) == 0.25)                 // (0+1)/4
        #expect(s.factor(atStep: 1) == 0.5)                  // (1+1)/4
        #expect(s.factor(atStep: 3) == 1)                    // (3+1)/4
        #expect(s.factor(atStep: 4) == 1)                    // progress 0: 0.1 + 0.9·½·(1+cos 0)
        #expect(abs(s.factor(atStep: 6) - 0.91405765) < 1e-6) // progress 0.2: 0.1 + 0.45·(1 + 0.80901699)
        #expect(abs(s.factor(atStep: 9) - 0.55) < 1e-6)      // progress 0.5: 0.1 + 0.45·(1 + 0)
        #expect(abs(s.factor(atStep: 14) - 0.1) < 1e-7)      // progress 1
        #expect(abs(s.factor(atStep: 50) - 0.1) < 1e-7)      // clamped
        // No warm-up.
        #expect(LRSchedule.cosine(warmupSteps: 0, totalSteps: 10, minFactor: 0).factor(atStep: 0) == 1)
    }

    @Test func schedulesAreCodable() throws {
        for s in [LRSchedule.constant, .multiStep(milestones: [30, 60], gamma: 0.1),
                  .cosine(warmupSteps: 5, totalSteps: 100, minFactor: 0.01)] {
            let data = try JSONEncoder().encode(s)
            #expect(try JSONDecoder().decode(LRSchedule.self, from: data) == s)
        }
    }

    @Test func clipping() {
        // Global norm of [3, 4] and [12] = √(9 + 16 + 144) = 13.
        // maxNorm 6.5 → scale = 6.5/(13 + 1e−6) ≈ 0.49999996 → [1.5, 2], [6]
        var grads: [Tensor?] = [Tensor([3, 4]), nil, Tensor([12])]
        let norm = clipGradientNorm(&grads, maxNorm: 6.5)
        #expect(norm == 13)
        #expect(approximatelyEqual(grads[0]!.storage, [1.5, 2]))
        #expect(approximatelyEqual(grads[2]!.storage, [6]))
        #expect(grads[1] == nil)

        // Below the limit nothing changes.
        var small: [Tensor?] = [Tensor([3, 4])]
        #expect(clipGradientNorm(&small, maxNorm: 10) == 5)
        #expect(small[0]!.storage == [3, 4])
        // All nil: norm 0.
        var none: [Tensor?] = [nil]
        #expect(clipGradientNorm(&none, maxNorm: 1) == 0)
    }
}
