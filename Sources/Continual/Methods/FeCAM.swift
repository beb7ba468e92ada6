import CBLAS
import TensorKit

/// FeCAM (Goswami et al., NeurIPS 2023) on frozen embeddings, as its official frozen-ViT scripts compute it
/// (dipamgoswami/FeCAM `FeCAM_vit_cifar100.py`, d2479b7):
/// - every embedding is L2-normalised;
/// - per class c, from that class's training embeddings only: the mean μ_c and the unbiased covariance S_c (1/(n−1));
/// - shrinkage S_c + α1·mean(diag S_c)·I + α2·mean(non-zero off-diagonal S_c)·(1 − I) (`fecam.alpha1`, `fecam.alpha2`;
///   CIFAR-100 1, 0; ImageNet-R 10, 10), then the correlation matrix of the result, then its pseudo-inverse P_c
///   (numpy's pinv, rcond 1e-15);
/// - prediction: the class of the smallest Mahalanobis distance (x − μ_c)ᵀ P_c (x − μ_c); logits are the negated
///   distances. μ_c is the mean of normalised embeddings, not normalised again (as the script).
/// Statistics are computed in Float64 and stored as Float32 (`means` [C, D], `precisions` [C, D, D], `counts` [C]).
/// Choices where the script is specific to its backbone: clipcl uses CLIP's projected embedding (the script: the
/// ViT's 768-d CLS token); no Tukey power transform (the ViT scripts use none; the ResNet pipeline does).
public struct FeCAM: ContinualMethod {
    var state: AdapterParameters
    let alpha1: Double
    let alpha2: Double

    public init(dimension: Int, classCount: Int, alpha1: Double, alpha2: Double) {
        self.alpha1 = alpha1
        self.alpha2 = alpha2
        state = AdapterParameters([
            ("means", Tensor(unchecked: [classCount, dimension], storage: [Float](repeating: 0, count: classCount * dimension))),
            ("precisions", Tensor(unchecked: [classCount, dimension, dimension],
                                  storage: [Float](repeating: 0, count: classCount * dimension * dimension))),
            ("counts", Tensor(unchecked: [classCount], storage: [Float](repeating: 0, count: classCount))),
        ], rule: .none)
    }

    public var description: String {
        "fecam: Mahalanobis distance to per-class means of L2-normalised embeddings, shrunk correlation matrices "
            + "(alpha1 \(alpha1), alpha2 \(alpha2)), no training"
    }

    /// Class statistics are large ([C, D, D]): only the latest task's copy is kept in a run directory.
    public var savesEveryTask: Bool { false }

    public mutating func beginTask(_ t: Int, context: TaskContext) throws {}

    public mutating func train(task: Int, data: TaskData, context: TaskContext, rng: inout RandomGenerator,
                               log: (TrainingEvent) -> Void) throws {
        let d = state["means"].shape[1], classCount = state["counts"].count
        let x = try data.features.l2Normalized()
        var rows: [Int: [Int]] = [:]
        for (i, label) in data.labels.enumerated() {
            guard label >= 0 && label < classCount else { throw ContinualError.invalidData("fecam: label \(label) outside 0..<\(classCount)") }
            rows[label, default: []].append(i)
        }
        var means = state["means"], precisions = state["precisions"], counts = state["counts"]
        for (c, members) in rows.sorted(by: { $0.key < $1.key }) {
            guard counts.storage[c] == 0 else {
                throw ContinualError.invalidData("fecam: class \(c) appears in two tasks (its statistics are computed once)")
            }
            guard members.count >= 2 else {
                throw ContinualError.invalidData("fecam: class \(c) has \(members.count) training sample(s); a covariance needs 2")
            }
            let (mean, precision) = try Self.statistics(x, rows: members, dimension: d, alpha1: alpha1, alpha2: alpha2)
            for j in 0..<d { means.storage[c * d + j] = Float(mean[j]) }
            for k in 0..<(d * d) { precisions.storage[c * d * d + k] = Float(precision[k]) }
            counts.storage[c] = Float(members.count)
        }
        state.values["means"] = means
        state.values["precisions"] = precisions
        state.values["counts"] = counts
    }

    /// Mean, and the pseudo-inverse of the shrunk correlation matrix, of rows `rows` of x [n, d].
    static func statistics(_ x: Tensor, rows: [Int], dimension d: Int, alpha1: Double,
                           alpha2: Double) throws(ContinualError) -> (mean: [Double], precision: [Double]) {
        let n = rows.count
        var mean = [Double](repeating: 0, count: d)
        for r in rows { for j in 0..<d { mean[j] += Double(x.storage[r * d + j]) } }
        for j in 0..<d { mean[j] /= Double(n) }
        var centred = [Double](repeating: 0, count: n * d)  // [n, d] row-major
        for (i, r) in rows.enumerated() { for j in 0..<d { centred[i * d + j] = Double(x.storage[r * d + j]) - mean[j] } }
        // S = centredᵀ · centred / (n − 1)
        var cov = [Double](repeating: 0, count: d * d)
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(d), Int32(n), 1 / Double(n - 1), centred, Int32(d), 0, &cov, Int32(d))
        for i in 0..<d { for j in 0..<i { cov[i * d + j] = cov[j * d + i] } }
        // Shrinkage: the mean of the diagonal, and the mean of the non-zero off-diagonal entries.
        var diagSum = 0.0, offSum = 0.0, offCount = 0
        for i in 0..<d {
            for j in 0..<d {
                if i == j { diagSum += cov[i * d + j] } else if cov[i * d + j] != 0 { offSum += cov[i * d + j]; offCount += 1 }
            }
        }
        let diagMean = diagSum / Double(d), offMean = offCount > 0 ? offSum / Double(offCount) : 0
        for i in 0..<d {
            for j in 0..<d { cov[i * d + j] += i == j ? alpha1 * diagMean : alpha2 * offMean }
        }
        // Covariance → correlation.
        let sd = (0..<d).map { cov[$0 * d + $0].squareRoot() }
        guard sd.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw .invalidData("fecam: a feature has zero variance after shrinkage (alpha1 = \(alpha1)); the correlation is undefined")
        }
        for i in 0..<d { for j in 0..<d { cov[i * d + j] /= sd[i] * sd[j] } }
        return (mean, try SymmetricMatrix.pseudoInverse(cov, n: d))
    }

    public mutating func endTask(_ t: Int, context: TaskContext) throws {}

    public func logits(features: Tensor, seenClasses: [Int], context: TaskContext) throws -> Tensor {
        let d = state["means"].shape[1], n = features.shape[0]
        let counts = state["counts"], means = state["means"].storage, precisions = state["precisions"].storage
        let x = try features.l2Normalized()
        var out = [Float](repeating: 0, count: n * seenClasses.count)
        for (k, c) in seenClasses.enumerated() {
            guard counts.storage[c] > 0 else { throw ContinualError.invalidData("fecam: class \(c) has no statistics (no training samples seen)") }
            var centred = x.storage
            for i in 0..<n { for j in 0..<d { centred[i * d + j] -= means[c * d + j] } }
            let diff = Tensor(unchecked: [n, d], storage: centred)
            let precision = Tensor(unchecked: [d, d], storage: Array(precisions[(c * d * d)..<((c + 1) * d * d)]))
            let weighted = try Tensor.matmul(diff, precision)
            for i in 0..<n {
                var s: Float = 0
                for j in 0..<d { s += weighted.storage[i * d + j] * centred[i * d + j] }
                out[i * seenClasses.count + k] = -s
            }
        }
        return Tensor(unchecked: [n, seenClasses.count], storage: out)
    }

    public var parameters: [String: Tensor] { state.values }

    public mutating func load(parameters: [String: Tensor]) throws { try state.load(parameters) }
}
