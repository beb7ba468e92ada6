import Datasets
import Foundation
import Testing
@testable import Continual
import TensorKit

/// The training-free methods and RAPF's parts, each against an independent reference: hand-computed values, a
/// Float64 closed form solved here by plain Gaussian elimination, finite differences, sampling statistics.
@Suite struct NewMethodTests {
    static func context(classes: [Int], seen: [Int], text: Tensor, task: Int = 0) throws -> TaskContext {
        TaskContext(task: task, taskClasses: classes, seenClasses: seen, lossClasses: seen,
                    textFeatures: text, classNames: (0..<text.shape[0]).map { "c\($0)" }, logitScale: 100)
    }

    // MARK: FeCAM

    /// One class with the (already unit) samples (1, 0) and (0, 1): μ = (½, ½), S = [[½, −½], [−½, ½]] (1/(n−1)),
    /// + α1·mean(diag S)·I = +½·I → [[1, −½], [−½, 1]], a correlation matrix already; its inverse is
    /// (4/3)·[[1, ½], [½, 1]]. Distances: x = (1, 0): v = (½, −½), vᵀPv = 1/3; x = (0.6, 0.8): v = (0.1, 0.3),
    /// vᵀPv = 13/75.
    @Test func fecamMahalanobisByHand() throws {
        var m = FeCAM(dimension: 2, classCount: 1, alpha1: 1, alpha2: 0)
        let text = Tensor(unchecked: [1, 2], storage: [1, 0])
        let ctx = try Self.context(classes: [0], seen: [0], text: text)
        var rng = RandomGenerator(seed: 1)
        try m.train(task: 0, data: TaskData(features: Tensor(unchecked: [2, 2], storage: [3, 0, 0, 5]), labels: [0, 0]),
                    context: ctx, rng: &rng, log: { _ in })
        let logits = try m.logits(features: Tensor(unchecked: [2, 2], storage: [2, 0, 0.6, 0.8]), seenClasses: [0], context: ctx)
        #expect(abs(logits.storage[0] + 1.0 / 3) < 1e-6 && abs(logits.storage[1] + 13.0 / 75) < 1e-6, "\(logits.storage)")
        // α2 shifts the off-diagonal by α2·mean(non-zero off-diagonal) = α2·(−½).
        var m2 = FeCAM(dimension: 2, classCount: 1, alpha1: 1, alpha2: 1)
        try m2.train(task: 0, data: TaskData(features: Tensor(unchecked: [2, 2], storage: [1, 0, 0, 1]), labels: [0, 0]),
                     context: ctx, rng: &rng, log: { _ in })
        // [[1, −1], [−1, 1]] is singular (eigenvalues 2 and 0): pinv = ½·uuᵀ with u = (1, −1)/√2, i.e.
        // ¼·[[1, −1], [−1, 1]]; v = (½, −½) → Pv = (¼, −¼) → vᵀPv = ⅛ + ⅛ = ¼.
        let l2 = try m2.logits(features: Tensor(unchecked: [1, 2], storage: [1, 0]), seenClasses: [0], context: ctx)
        #expect(abs(l2.storage[0] + 0.25) < 1e-6, "\(l2.storage)")
    }

    // MARK: RanPAC

    /// Plain Gaussian elimination with partial pivoting, Float64: the independent solver of these tests.
    static func solve(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
        var a = a, b = b
        let n = a.count
        for col in 0..<n {
            let pivot = (col..<n).max { abs(a[$0][col]) < abs(a[$1][col]) }!
            a.swapAt(col, pivot); b.swapAt(col, pivot)
            for r in (col + 1)..<n where a[r][col] != 0 {
                let f = a[r][col] / a[col][col]
                for k in col..<n { a[r][k] -= f * a[col][k] }
                for k in 0..<b[r].count { b[r][k] -= f * b[col][k] }
            }
        }
        var x = b
        for r in stride(from: n - 1, through: 0, by: -1) {
            for k in 0..<b[r].count {
                var s = b[r][k]
                for j in (r + 1)..<n { s -= a[r][j] * x[j][k] }
                x[r][k] = s / a[r][r]
            }
        }
        return x
    }

    static func gram(_ h: [[Double]]) -> [[Double]] {
        let m = h[0].count
        return (0..<m).map { i in (0..<m).map { j in h.reduce(0) { $0 + $1[i] * $1[j] } } }
    }

    static func cross(_ h: [[Double]], _ y: [[Double]]) -> [[Double]] {
        (0..<h[0].count).map { i in (0..<y[0].count).map { c in zip(h, y).reduce(0) { $0 + $1.0[i] * $1.1[c] } } }
    }

    /// RanPAC's λ search against solving (H₁ᵀH₁ + λI)W = H₁ᵀY₁ for every λ here, in both regimes of the
    /// eigendecomposition shortcut (fewer samples than M, and more).
    @Test(arguments: [(30, 8), (20, 40)])
    func ridgeSearchMatchesDirectSolves(_ n: Int, _ m: Int) throws {
        var rng = RandomGenerator(seed: UInt64(n * m))
        let classes = 3
        let h = Tensor(unchecked: [n, m], storage: (0..<(n * m)).map { _ in max(0, rng.normal()) })
        var y = [Float](repeating: 0, count: n * classes)
        for i in 0..<n { y[i * classes + i % classes] = 1 }
        let order = Array((0..<n).reversed())
        let chosen = try RanPAC.chooseRidge(h: h, y: y, order: order, m: m, classes: classes)
        let fit = Int(Double(n) * 0.8)
        let rows = { (r: ArraySlice<Int>) in r.map { i in (0..<m).map { Double(h.storage[i * m + $0]) } } }
        let labels = { (r: ArraySlice<Int>) in r.map { i in (0..<classes).map { Double(y[i * classes + $0]) } } }
        let h1 = rows(order[..<fit]), y1 = labels(order[..<fit]), hv = rows(order[fit...]), yv = labels(order[fit...])
        var best = 0.0, bestLoss = Double.infinity
        for ridge in RanPAC.ridges {
            var a = Self.gram(h1)
            for i in 0..<m { a[i][i] += ridge }
            let w = Self.solve(a, Self.cross(h1, y1))
            var loss = 0.0
            for (row, target) in zip(hv, yv) {
                for c in 0..<classes {
                    let p = (0..<m).reduce(0.0) { $0 + row[$1] * w[$1][c] }
                    loss += (p - target[c]) * (p - target[c])
                }
            }
            loss /= Double(hv.count * classes)
            if loss < bestLoss { best = ridge; bestLoss = loss }
        }
        #expect(chosen == best, "chosen \(chosen), direct solves \(best)")
    }

    /// After a task, Wo = (G + λI)⁻¹Q with G = HᵀH, Q = HᵀY of the ReLU features — solved here independently.
    @Test func ranpacWeightsSolveTheRidgeSystem() throws {
        var options = RunConfig.RanPACOptions()
        options.dim = 12
        options.lambda = .value(0.5)
        var rng = RandomGenerator(seed: 3)
        var m = RanPAC(dimension: 4, classCount: 3, options: options, rng: &rng)
        let x = Tensor.normal(shape: [9, 4], using: &rng), labels = (0..<9).map { $0 % 3 }
        let text = Tensor.normal(shape: [3, 4], using: &rng)
        let ctx = try Self.context(classes: [0, 1, 2], seen: [0, 1, 2], text: text)
        try m.train(task: 0, data: TaskData(features: x, labels: labels), context: ctx, rng: &rng, log: { _ in })
        let h = try m.features(x)
        let hd = (0..<9).map { i in (0..<12).map { Double(h.storage[i * 12 + $0]) } }
        let yd = labels.map { l in (0..<3).map { $0 == l ? 1.0 : 0.0 } }
        var a = Self.gram(hd)
        for i in 0..<12 { a[i][i] += 0.5 }
        let w = Self.solve(a, Self.cross(hd, yd))
        let weights = m.state["weights"]
        for i in 0..<12 { for c in 0..<3 {
            #expect(abs(Double(weights.storage[i * 3 + c]) - w[i][c]) < 1e-4 * max(1, abs(w[i][c])), "[\(i), \(c)]")
        } }
        // Logits are h(x)·Wo over the seen classes, in their order.
        let logits = try m.logits(features: x, seenClasses: [2, 0], context: ctx)
        let p = (0..<12).reduce(0.0) { $0 + hd[0][$1] * w[$1][2] }
        #expect(abs(Double(logits.storage[0]) - p) < 1e-3)
    }

    // MARK: SimpleCIL

    /// Prototypes are means of raw embeddings (SimpleCIL), not of normalised ones (NCM): class 0's (10, 0) and (0, 1)
    /// average to (5, ½) raw but to (½, ½) normalised; class 1 is (0, 3). For x = (1, 1.2) (|x| = 1.5620):
    /// SimpleCIL: cos to (5, ½) = 5.6/(1.5620·5.0249) = 0.7135 < cos to (0, 3) = 0.7682 → class 1;
    /// NCM: cos to (½, ½) = 1.1/(1.5620·0.7071) = 0.9959 > 0.7682 → class 0.
    /// An indefinite symmetric matrix (Cholesky fails) is solved by LU; the solution is checked by hand.
    @Test func symmetricSolveFallsBackToLU() throws {
        // [[0, 2], [2, 1]] x = [4, 5]  →  2·x₁ = 4, 2·x₀ + x₁ = 5  →  x = (1.5, 2).
        #expect(throws: ContinualError.self) { try SymmetricMatrix.solvePositiveDefinite([0, 2, 2, 1], n: 2, rhs: [4, 5], columns: 1) }
        let x = try SymmetricMatrix.solveSymmetric([0, 2, 2, 1], n: 2, rhs: [4, 5], columns: 1)
        #expect(abs(x[0] - 1.5) < 1e-12 && abs(x[1] - 2) < 1e-12, "\(x)")
        #expect(throws: ContinualError.self) { try SymmetricMatrix.solveSymmetric([1, 1, 1, 1], n: 2, rhs: [1, 2], columns: 1) }
        #expect(throws: ContinualError.self) { try SymmetricMatrix.solveSymmetric([1, 0, 0], n: 2, rhs: [1, 2], columns: 1) }
    }

    @Test func simplecilAveragesRawEmbeddings() throws {
        let text = Tensor(unchecked: [2, 2], storage: [1, 0, 0, 1])
        let ctx = try Self.context(classes: [0, 1], seen: [0, 1], text: text)
        let data = TaskData(features: Tensor(unchecked: [3, 2], storage: [10, 0, 0, 1, 0, 3]), labels: [0, 0, 1])
        var rng = RandomGenerator(seed: 1)
        var simple = NearestClassMean(dimension: 2, classCount: 2, normalizeSamples: false)
        var ncm = NearestClassMean(dimension: 2, classCount: 2)
        try simple.train(task: 0, data: data, context: ctx, rng: &rng, log: { _ in })
        try ncm.train(task: 0, data: data, context: ctx, rng: &rng, log: { _ in })
        let x = Tensor(unchecked: [1, 2], storage: [1, 1.2])
        let s = try simple.logits(features: x, seenClasses: [0, 1], context: ctx).storage
        let n = try ncm.logits(features: x, seenClasses: [0, 1], context: ctx).storage
        // cos(x, (5, ½)) = (5 + 0.6)/(|x|·|(5, ½)|); class 1's prototype is (0, 3) → cos = 1.2/|x|.
        let nx = (1 + 1.44).squareRoot()
        #expect(abs(Double(s[0]) / 100 - 5.6 / (nx * (25.25).squareRoot())) < 1e-5)
        #expect(s[1] > s[0] && n[0] > n[1])   // the two rules disagree on this point
    }

    // MARK: RAPF parts

    @Test func shrinkageAddsTheMeanDiagonalAndOffDiagonal() {
        // [[2, ½], [½, 1]]: mean diag 1.5, mean non-zero off-diagonal ½ → [[3.5, 1], [1, 2.5]].
        var cov = [2.0, 0.5, 0.5, 1.0]
        ClassGaussians.shrink(&cov, 2)
        #expect(cov == [3.5, 1, 1, 2.5])
    }

    /// Samples μ + L·z reproduce the recorded mean and covariance (+1e-4·I) within sampling error.
    @Test func gaussianSamplesHaveTheRecordedMeanAndCovariance() throws {
        var rng = RandomGenerator(seed: 5)
        let d = 3
        // 400 training rows of one class with correlated coordinates.
        var rows: [Float] = []
        for _ in 0..<400 {
            let a = rng.normal(), b = rng.normal(), c = rng.normal()
            rows += [2 + a, -1 + 0.8 * a + 0.6 * b, 0.5 * c]
        }
        var g = ClassGaussians(classCount: 1, dimension: d)
        try g.record(TaskData(features: Tensor(unchecked: [400, d], storage: rows), labels: [Int](repeating: 0, count: 400)),
                     shrinkage: false)
        // The recorded statistics, recomputed here.
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<400 { for j in 0..<d { mean[j] += Double(rows[i * d + j]) / 400 } }
        var cov = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
        for i in 0..<400 { for j in 0..<d { for k in 0..<d {
            cov[j][k] += (Double(rows[i * d + j]) - mean[j]) * (Double(rows[i * d + k]) - mean[k]) / 399
        } } }
        for j in 0..<d { cov[j][j] += 1e-4 }
        let n = 40_000
        let samples = g.sample(0, count: n, rng: &rng)
        var sm = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { sm[j] += Double(samples[i * d + j]) / Double(n) } }
        for j in 0..<d {
            // 5 standard errors.
            #expect(abs(sm[j] - mean[j]) < 5 * (cov[j][j] / Double(n)).squareRoot(), "mean \(j): \(sm[j]) vs \(mean[j])")
        }
        for j in 0..<d { for k in 0..<d {
            var c = 0.0
            for i in 0..<n { c += (Double(samples[i * d + j]) - sm[j]) * (Double(samples[i * d + k]) - sm[k]) }
            c /= Double(n - 1)
            let se = ((cov[j][j] * cov[k][k] + cov[j][k] * cov[j][k]) / Double(n)).squareRoot()
            #expect(abs(c - cov[j][k]) < 5 * se, "cov[\(j)][\(k)]: \(c) vs \(cov[j][k])")
        } }
    }

    @Test func hardPairsAreTextEmbeddingsCloserThanTheThreshold() {
        // Unit vectors at 0°, 10° and 90°: distances 2·sin(5°) = 0.1743 and √2.
        let r = Float.pi / 18
        let text = Tensor(unchecked: [3, 2], storage: [1, 0, cos(r), sin(r), 0, 1])
        let pairs = ClassGaussians.hardPairs(old: [0], new: [1, 2], text: text, threshold: 0.55)
        #expect(pairs.map { [$0.old, $0.new] } == [[0, 1]])
        #expect(ClassGaussians.hardPairs(old: [0], new: [1, 2], text: text, threshold: 1.5).count == 2)
        #expect(ClassGaussians.hardPairs(old: [0], new: [1, 2], text: text, threshold: 0.17).isEmpty)
    }

    /// The hinge's gradient with respect to the adapter weight, against central finite differences.
    @Test func hingeGradientMatchesFiniteDifferences() throws {
        var rng = RandomGenerator(seed: 11)
        let d = 4, r = 6
        let w = Tensor.normal(shape: [d, d], using: &rng).scaled(by: 0.5)
        let samples = Tensor.normal(shape: [r, d], using: &rng)
        let toOld = try Tensor.normal(shape: [r, d], using: &rng).l2Normalized()
        let toNew = try Tensor.normal(shape: [r, d], using: &rng).l2Normalized()
        func loss(_ weight: Variable) throws -> Variable {
            let f = try Variable.linear(Variable(samples), weight: weight, bias: nil).l2Normalized()
            return try ReplayPlan.hinge(f, old: toOld, new: toNew)
        }
        let v = Variable(w, requiresGrad: true)
        let g = try #require(try loss(v).gradients()[v])
        var checked = 0
        for k in 0..<(d * d) {
            var plus = w, minus = w
            plus.storage[k] += 1e-3
            minus.storage[k] -= 1e-3
            let lp = try loss(Variable(plus)).value.storage[0], lm = try loss(Variable(minus)).value.storage[0]
            let numeric = (lp - lm) / 2e-3
            #expect(abs(numeric - g.storage[k]) <= 2e-3 + 2e-2 * abs(g.storage[k]), "entry \(k): \(numeric) vs \(g.storage[k])")
            if abs(numeric) > 1e-3 { checked += 1 }
        }
        #expect(checked > d * d / 2, "the hinge is inactive for most entries: the check would prove little")
    }
}
