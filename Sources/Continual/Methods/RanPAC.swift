import CBLAS
import TensorKit

/// RanPAC (McDonnell et al., NeurIPS 2023) without its optional first-session adaptation ("Phase 2"), as the official
/// code computes it (RanPAC/RanPAC `RanPAC.py`, 012927f):
/// - a fixed random projection W ∈ ℝ^{D×M}, entries N(0, 1) (`ranpac.dim` = M, default 10,000), and h(x) = ReLU(x·W) of
///   the raw (un-normalised) embedding;
/// - per task, with one-hot targets Y over all classes: G += HᵀH, Q += HᵀY;
/// - the ridge λ (`ranpac.lambda = auto`): for each λ ∈ {10⁻⁸, 10⁻⁷, …, 10⁸}, fit (H₁ᵀH₁ + λI)⁻¹H₁ᵀY₁ on the first
///   80 % of the task's shuffled samples and keep the λ of least mean squared error on the other 20 % (the task's
///   own data only);
/// - Wo = (G + λI)⁻¹Q (Cholesky; LU as the reference's `torch.linalg.solve` when a tiny λ leaves G + λI not
///   positive definite in floating point); logits h(x)·Wo for the seen classes (no normalisation, as the official head; LAMDA-PILOT's port
///   scores cosines instead).
/// Computed here: G and Q accumulate in Float32 (saved, so a resumed run continues bit-exactly); the solves run in
/// Float64 — Wo by Cholesky, the λ search through the eigendecomposition of the smaller Gram matrix (HH₁ᵀ when the
/// task has fewer samples than M), which gives the same fits as solving for every λ. W comes from the run's
/// initialisation generator, so it is the same for every task and every resume of one seed.
public struct RanPAC: ContinualMethod {
    var state: AdapterParameters
    let projection: Tensor  // [D, M]
    let lambda: RidgeLambda

    public init(dimension: Int, classCount: Int, options: RunConfig.RanPACOptions, rng: inout RandomGenerator) {
        let m = options.dim
        lambda = options.lambda
        projection = Tensor.normal(shape: [dimension, m], using: &rng)
        state = AdapterParameters([
            ("gram", Tensor(unchecked: [m, m], storage: [Float](repeating: 0, count: m * m))),
            ("targets", Tensor(unchecked: [m, classCount], storage: [Float](repeating: 0, count: m * classCount))),
            ("weights", Tensor(unchecked: [m, classCount], storage: [Float](repeating: 0, count: m * classCount))),
            ("lambda", Tensor(unchecked: [1], storage: [0])),
        ], rule: .none)
    }

    public var description: String {
        "ranpac: random projection to \(projection.shape[1]) dims + ReLU, ridge regression on the accumulated Gram matrix "
            + "(lambda \(lambda == .auto ? "auto" : "\(lambda)")), no training"
    }

    /// The Gram matrix is M×M (400 MB at M = 10,000): only the latest task's copy is kept in a run directory.
    public var savesEveryTask: Bool { false }

    static let ridges: [Double] = (-8...8).map { Double("1e\($0)")! }

    /// h(x) = ReLU(x·W), [n, M].
    func features(_ x: Tensor) throws -> Tensor {
        var h = try Tensor.matmul(x, projection)
        for i in h.storage.indices where h.storage[i] < 0 { h.storage[i] = 0 }
        return h
    }

    public mutating func beginTask(_ t: Int, context: TaskContext) throws {}

    public mutating func train(task: Int, data: TaskData, context: TaskContext, rng: inout RandomGenerator,
                               log: (TrainingEvent) -> Void) throws {
        let m = projection.shape[1], classCount = state["targets"].shape[1], n = data.count
        guard n >= 1 else { throw ContinualError.invalidData("ranpac: task \(task) has no training samples") }
        let h = try features(data.features)
        var y = [Float](repeating: 0, count: n * classCount)
        for (i, label) in data.labels.enumerated() {
            guard label >= 0 && label < classCount else { throw ContinualError.invalidData("ranpac: label \(label) outside 0..<\(classCount)") }
            y[i * classCount + label] = 1
        }
        var gram = state["gram"], targets = state["targets"]
        gram.storage.withUnsafeMutableBufferPointer { g in
            cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(m), Int32(n), 1, h.storage, Int32(m), 1, g.baseAddress, Int32(m))
        }
        for i in 0..<m { for j in 0..<i { gram.storage[i * m + j] = gram.storage[j * m + i] } }
        targets.storage.withUnsafeMutableBufferPointer { q in
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(m), Int32(classCount), Int32(n), 1, h.storage, Int32(m),
                        y, Int32(classCount), 1, q.baseAddress, Int32(classCount))
        }
        let chosen: Double
        switch lambda {
        case let .value(v): chosen = v
        case .auto:
            var order = Array(0..<n)
            rng.shuffle(&order)
            chosen = try Self.chooseRidge(h: h, y: y, order: order, m: m, classes: classCount)
        }
        // Wo = (G + λI)⁻¹ Q, in Float64.
        var a = gram.storage.map(Double.init)
        for i in 0..<m { a[i * m + i] += chosen }
        var b = [Double](repeating: 0, count: m * classCount)  // column-major [m, C]
        for i in 0..<m { for c in 0..<classCount { b[i + c * m] = Double(targets.storage[i * classCount + c]) } }
        let x = try SymmetricMatrix.solveSymmetric(a, n: m, rhs: b, columns: classCount)
        var weights = state["weights"]
        for i in 0..<m { for c in 0..<classCount { weights.storage[i * classCount + c] = Float(x[i + c * m]) } }
        state.values["gram"] = gram
        state.values["targets"] = targets
        state.values["weights"] = weights
        state.values["lambda"] = Tensor(unchecked: [1], storage: [Float(chosen)])
    }

    /// RanPAC's `optimise_ridge_parameter`: the λ of least mean squared error (over all classes' one-hot targets) on
    /// the last 20 % of the shuffled task, fitted on the first 80 %. Ties keep the smaller λ (numpy's argmin).
    static func chooseRidge(h: Tensor, y: [Float], order: [Int], m: Int, classes: Int) throws -> Double {
        let n = order.count
        let fit = Int(Double(n) * 0.8)
        guard fit >= 1, fit < n else { return ridges[ridges.count / 2] }  // too few samples to hold any out: λ = 1
        let fitRows = Array(order[..<fit]), valRows = Array(order[fit...])
        func rows(_ r: [Int]) -> [Double] { r.flatMap { i in (0..<m).map { Double(h.storage[i * m + $0]) } } }
        let hf = rows(fitRows), hv = rows(valRows)
        let yf = fitRows.flatMap { i in (0..<classes).map { Double(y[i * classes + $0]) } }
        let yv = valRows.flatMap { i in (0..<classes).map { Double(y[i * classes + $0]) } }
        let v = valRows.count
        // Predictions for λ: Hv (H₁ᵀH₁ + λI)⁻¹ H₁ᵀ Y₁ = A diag(1/(s + λ)) B, from the eigendecomposition of the smaller
        // of H₁H₁ᵀ (fit × fit; then A = Hv H₁ᵀ U, B = Uᵀ Y₁) and H₁ᵀH₁ (m × m; then A = Hv U, B = Uᵀ H₁ᵀ Y₁).
        let k = min(fit, m)
        var gram = [Double](repeating: 0, count: k * k)
        if fit <= m {
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, Int32(fit), Int32(m), 1, hf, Int32(m), 0, &gram, Int32(fit))
        } else {
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(m), Int32(fit), 1, hf, Int32(m), 0, &gram, Int32(m))
        }
        for i in 0..<k { for j in 0..<i { gram[i * k + j] = gram[j * k + i] } }
        let e = try SymmetricMatrix.eigen(gram, n: k)  // vectors column-major: U[r, c] at r + c·k
        var a = [Double](repeating: 0, count: v * k), b = [Double](repeating: 0, count: k * classes)
        if fit <= m {
            var kvf = [Double](repeating: 0, count: v * fit)  // Hv H₁ᵀ
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(v), Int32(fit), Int32(m), 1, hv, Int32(m), hf, Int32(m), 0, &kvf, Int32(fit))
            // A = kvf · U (U column-major = Uᵀ row-major), B = Uᵀ Y₁
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(v), Int32(k), Int32(fit), 1, kvf, Int32(fit), e.vectors, Int32(k), 0, &a, Int32(k))
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(k), Int32(classes), Int32(fit), 1, e.vectors, Int32(k), yf, Int32(classes), 0, &b, Int32(classes))
        } else {
            var hty = [Double](repeating: 0, count: m * classes)  // H₁ᵀ Y₁
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(m), Int32(classes), Int32(fit), 1, hf, Int32(m), yf, Int32(classes), 0, &hty, Int32(classes))
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(v), Int32(k), Int32(m), 1, hv, Int32(m), e.vectors, Int32(k), 0, &a, Int32(k))
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(k), Int32(classes), Int32(m), 1, e.vectors, Int32(k), hty, Int32(classes), 0, &b, Int32(classes))
        }
        var best = ridges[0], bestLoss = Double.infinity
        var scaled = [Double](repeating: 0, count: v * k), prediction = [Double](repeating: 0, count: v * classes)
        for ridge in ridges {
            for i in 0..<v { for j in 0..<k { scaled[i * k + j] = a[i * k + j] / (max(e.values[j], 0) + ridge) } }
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(v), Int32(classes), Int32(k), 1, scaled, Int32(k), b, Int32(classes), 0, &prediction, Int32(classes))
            var loss = 0.0
            for i in 0..<(v * classes) { loss += (prediction[i] - yv[i]) * (prediction[i] - yv[i]) }
            loss /= Double(v * classes)
            if loss < bestLoss { best = ridge; bestLoss = loss }
        }
        return best
    }

    public mutating func endTask(_ t: Int, context: TaskContext) throws {}

    public func logits(features x: Tensor, seenClasses: [Int], context: TaskContext) throws -> Tensor {
        let all = try Tensor.matmul(try features(x), state["weights"])  // [n, C]
        let classCount = all.shape[1], n = all.shape[0]
        var out = [Float](repeating: 0, count: n * seenClasses.count)
        for i in 0..<n { for (k, c) in seenClasses.enumerated() { out[i * seenClasses.count + k] = all.storage[i * classCount + c] } }
        return Tensor(unchecked: [n, seenClasses.count], storage: out)
    }

    public var parameters: [String: Tensor] { state.values }

    public mutating func load(parameters: [String: Tensor]) throws { try state.load(parameters) }
}
