import Continual
import Foundation
import Testing
import TensorKit

/// The runner's per-task counts against a count made here with plain loops (Double, no TensorKit kernels, no
/// runner code), on a permuted class order so that a mix-up of label ids, class-order positions and logit
/// columns (in the Evaluator or in the text features a task sees) changes the numbers.
@Suite struct IndependentCountTests {
    static let order = [4, 7, 1, 9, 0, 2, 8, 3, 6, 5]

    /// For each task t: correct predictions per task 0...t and test samples per task, predicting by the first
    /// argmax of cos(x, prototype_c) over the classes seen so far.
    static func count(_ features: FeatureSet, prototypes: [[Double]]) -> [(correct: [Int], totals: [Int])] {
        let d = features.dimension
        func row(_ t: Tensor, _ i: Int) -> [Double] { (0..<d).map { Double(t.storage[i * d + $0]) } }
        func cosine(_ a: [Double], _ b: [Double]) -> Double {
            var ab = 0.0, aa = 0.0, bb = 0.0
            for j in 0..<a.count { ab += a[j] * b[j]; aa += a[j] * a[j]; bb += b[j] * b[j] }
            return ab / (aa.squareRoot() * bb.squareRoot())
        }
        var out: [(correct: [Int], totals: [Int])] = []
        for t in 0..<5 {
            let seen = Array(order[0..<(2 * (t + 1))])
            var correct = [Int](repeating: 0, count: t + 1), totals = [Int](repeating: 0, count: t + 1)
            for (i, label) in features.testLabels.enumerated() {
                guard let position = seen.firstIndex(of: label) else { continue }
                let x = row(features.testFeatures, i)
                var best = seen[0], bestScore = -Double.infinity
                for c in seen {
                    let s = cosine(x, prototypes[c])
                    if s > bestScore { best = c; bestScore = s }
                }
                totals[position / 2] += 1
                if best == label { correct[position / 2] += 1 }
            }
            out.append((correct, totals))
        }
        return out
    }

    func check(_ result: RunResult, against expected: [(correct: [Int], totals: [Int])], floor: Double) {
        #expect(result.records.count == 5)
        for (t, record) in result.records.enumerated() {
            #expect(record.classes == Array(Self.order[(2 * t)..<(2 * t + 2)]), "task \(t) classes")
            #expect(record.correct == expected[t].correct, "task \(t): runner \(record.correct), counted \(expected[t].correct)")
            #expect(record.totals == expected[t].totals, "task \(t)")
        }
        let last = expected[4]
        let counted = 100 * Double(last.correct.reduce(0, +)) / Double(last.totals.reduce(0, +))
        #expect(abs(result.last - counted) < 1e-9)
        #expect(counted >= floor, "last accuracy \(counted) below the floor \(floor)")
    }

    @Test func zeroShotCountsMatchAPlainArgmax() throws {
        let features = try SyntheticSpec().make()
        let d = features.dimension
        let text = (0..<features.classCount).map { c in (0..<d).map { Double(features.textFeatures.storage[c * d + $0]) } }
        let (result, _) = try runToEnd(syntheticConfig(.zeroshot), features: features, classOrder: Self.order)
        // SyntheticSpec is built so zero-shot is good but imperfect (≈ 90 % over the 10 classes).
        check(result, against: Self.count(features, prototypes: text), floor: 80)
    }

    @Test func nearestClassMeanCountsMatchAPlainArgmax() throws {
        let features = try SyntheticSpec().make()
        let d = features.dimension
        // Class means of the L2-normalised training embeddings (only the direction matters for the cosine).
        var means = [[Double]](repeating: [Double](repeating: 0, count: d), count: features.classCount)
        for (i, label) in features.trainLabels.enumerated() {
            let x = (0..<d).map { Double(features.trainFeatures.storage[i * d + $0]) }
            let norm = x.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for j in 0..<d { means[label][j] += x[j] / norm }
        }
        let (result, _) = try runToEnd(syntheticConfig(.ncm), features: features, classOrder: Self.order)
        check(result, against: Self.count(features, prototypes: means), floor: 80)
    }
}
