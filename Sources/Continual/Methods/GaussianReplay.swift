import CBLAS
import TensorKit

/// RAPF's class statistics, pseudo-feature replay and hard-pair hinge (linlany/RAPF 81d41df: `main.py` 63–123,
/// `continual_clip/models.py` 27–45, 168–199), as a component of the linear adapter:
/// - after training task t, per class of t: the mean and the unbiased covariance (1/(n−1)) + 1e-4·I of its raw
///   (pre-adapter, un-normalised) training embeddings; kept as the mean and the Cholesky factor L of the covariance
///   (after RAPF's `shrink_cov`, Σ + mean(diag Σ)·I + mean(non-zero off-diag Σ)·(1 − I), when `rapf.shrinkage`), so a
///   sample is μ + L·z, z ~ N(0, I), as RAPF's `randn @ chol(cov).T + mean`;
/// - replay (tasks t ≥ 1): every epoch the old classes are shuffled once; batch b replays k = `rapf.classes-per-batch`
///   of them, entries (b·k + j) mod |old| of that list, ⌊10β⌋ samples each, labelled with their class, appended to the
///   batch for the cross-entropy over all seen classes;
/// - hinge: hard pairs (old o, new n) whose L2-normalised text embeddings are closer than `rapf.threshold`
///   (Euclidean); every batch draws ⌊20β⌋ samples of o per pair, and adds mean relu(−f·t_o + f·t_n + 0.1) over them,
///   f the adapted, L2-normalised sample (these rows are not in the cross-entropy).
/// Statistics are computed in Float64, stored in Float32 (`means` [C, D], `factors` [C, D, D], `counts` [C]).
struct ClassGaussians: Sendable {
    var means: Tensor
    var factors: Tensor
    var counts: Tensor

    init(classCount: Int, dimension d: Int) {
        means = Tensor(unchecked: [classCount, d], storage: [Float](repeating: 0, count: classCount * d))
        factors = Tensor(unchecked: [classCount, d, d], storage: [Float](repeating: 0, count: classCount * d * d))
        counts = Tensor(unchecked: [classCount], storage: [Float](repeating: 0, count: classCount))
    }

    var dimension: Int { means.shape[1] }

    static let names = ["replay.means", "replay.factors", "replay.counts"]
    var parameters: [String: Tensor] { ["replay.means": means, "replay.factors": factors, "replay.counts": counts] }

    mutating func load(_ p: [String: Tensor]) throws(ContinualError) {
        for (name, current) in zip(Self.names, [means, factors, counts]) {
            guard let t = p[name] else { throw .invalidParameters(name: name, reason: "missing") }
            guard t.shape == current.shape else { throw .invalidParameters(name: name, reason: "shape \(t.shape), expected \(current.shape)") }
            guard t.storage.allSatisfy(\.isFinite) else { throw .invalidParameters(name: name, reason: "non-finite values") }
        }
        means = p["replay.means"]!
        factors = p["replay.factors"]!
        counts = p["replay.counts"]!
    }

    func has(_ c: Int) -> Bool { counts.storage[c] > 0 }

    /// Adds the statistics of every class in `data` (each class must appear in one task only).
    mutating func record(_ data: TaskData, shrinkage: Bool) throws(ContinualError) {
        let d = dimension
        var rows: [Int: [Int]] = [:]
        for (i, label) in data.labels.enumerated() { rows[label, default: []].append(i) }
        for (c, members) in rows.sorted(by: { $0.key < $1.key }) {
            guard c >= 0 && c < counts.count else { throw .invalidData("replay: label \(c) outside 0..<\(counts.count)") }
            guard !has(c) else { throw .invalidData("replay: class \(c) appears in two tasks (its statistics are computed once)") }
            guard members.count >= 2 else { throw .invalidData("replay: class \(c) has \(members.count) training sample(s); a covariance needs 2") }
            let n = members.count
            var mean = [Double](repeating: 0, count: d)
            for r in members { for j in 0..<d { mean[j] += Double(data.features.storage[r * d + j]) } }
            for j in 0..<d { mean[j] /= Double(n) }
            var centred = [Double](repeating: 0, count: n * d)
            for (i, r) in members.enumerated() { for j in 0..<d { centred[i * d + j] = Double(data.features.storage[r * d + j]) - mean[j] } }
            var cov = [Double](repeating: 0, count: d * d)
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(d), Int32(n), 1 / Double(n - 1), centred, Int32(d), 0, &cov, Int32(d))
            for i in 0..<d { for j in 0..<i { cov[i * d + j] = cov[j * d + i] } }
            for i in 0..<d { cov[i * d + i] += 1e-4 }
            if shrinkage { Self.shrink(&cov, d) }
            let l = try Self.cholesky(cov, d)
            for j in 0..<d { means.storage[c * d + j] = Float(mean[j]) }
            for k in 0..<(d * d) { factors.storage[c * d * d + k] = Float(l[k]) }
            counts.storage[c] = Float(n)
        }
    }

    /// RAPF's `shrink_cov`: Σ + mean(diag Σ)·I + mean(non-zero off-diagonal Σ)·(1 − I).
    static func shrink(_ cov: inout [Double], _ d: Int) {
        var diagSum = 0.0, offSum = 0.0, offCount = 0
        for i in 0..<d {
            for j in 0..<d {
                if i == j { diagSum += cov[i * d + j] } else if cov[i * d + j] != 0 { offSum += cov[i * d + j]; offCount += 1 }
            }
        }
        let diagMean = diagSum / Double(d), offMean = offCount > 0 ? offSum / Double(offCount) : 0
        for i in 0..<d { for j in 0..<d { cov[i * d + j] += i == j ? diagMean : offMean } }
    }

    /// Lower-triangular L with L·Lᵀ = a (row-major d×d), through LAPACK `dpotrf_`: the column-major upper factor U
    /// (a = UᵀU) read row-major is L = Uᵀ.
    static func cholesky(_ a: [Double], _ d: Int) throws(ContinualError) -> [Double] {
        var l = a
        var uplo: CChar = 85 /* U */
        var n = Int32(d), lda = Int32(d), info: Int32 = 0
        dpotrf_(&uplo, &n, &l, &lda, &info)
        guard info == 0 else {
            throw info > 0 ? .invalidData("replay: a class covariance is not positive definite (leading minor \(info))")
                           : .lapack(routine: "dpotrf_", info: Int(info))
        }
        for r in 0..<d { for c in (r + 1)..<d where c < d { l[r * d + c] = 0 } }  // keep the lower triangle only
        return l
    }

    /// `count` samples μ_c + L_c·z of class c, [count, D].
    func sample(_ c: Int, count: Int, rng: inout RandomGenerator) -> [Float] {
        let d = dimension
        let z = Tensor.normal(shape: [count, d], using: &rng)
        var out = [Float](repeating: 0, count: count * d)
        // out = z · L_cᵀ (rows are samples), then + μ_c.
        factors.storage.withUnsafeBufferPointer { f in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(count), Int32(d), Int32(d), 1, z.storage, Int32(d),
                        f.baseAddress! + c * d * d, Int32(d), 0, &out, Int32(d))
        }
        for i in 0..<count { for j in 0..<d { out[i * d + j] += means.storage[c * d + j] } }
        return out
    }

    /// Hard pairs (old, new): L2-normalised text embeddings closer than `threshold` (Euclidean), old classes in the
    /// order given, new classes in the order given.
    static func hardPairs(old: [Int], new: [Int], text: Tensor, threshold: Double) -> [(old: Int, new: Int)] {
        let d = text.shape[1]
        var pairs: [(Int, Int)] = []
        for o in old {
            for n in new {
                var s = 0.0
                for j in 0..<d {
                    let diff = Double(text.storage[o * d + j]) - Double(text.storage[n * d + j])
                    s += diff * diff
                }
                if s.squareRoot() < threshold { pairs.append((o, n)) }
            }
        }
        return pairs
    }
}

/// What replay adds to the linear adapter's training of one task (t ≥ 1).
struct ReplayPlan {
    let gaussians: ClassGaussians
    let options: RunConfig.RAPFOptions
    /// Old classes with statistics, in class order.
    let old: [Int]
    let pairs: [(old: Int, new: Int)]
    private var epochOrder: [Int] = []

    init(gaussians: ClassGaussians, options: RunConfig.RAPFOptions, context: TaskContext) {
        self.gaussians = gaussians
        self.options = options
        old = context.seenClasses.filter { !context.taskClasses.contains($0) && gaussians.has($0) }
        pairs = options.hinge ? ClassGaussians.hardPairs(old: old, new: context.taskClasses, text: context.textFeatures,
                                                         threshold: options.threshold) : []
    }

    var perClass: Int { Int(10 * options.beta) }
    var perPair: Int { Int(20 * options.beta) }

    /// RAPF shuffles the old classes once per epoch.
    mutating func beginEpoch(rng: inout RandomGenerator) {
        epochOrder = old
        rng.shuffle(&epochOrder)
    }

    /// Pseudo-features and labels appended to batch `step`.
    func replayRows(step: Int, rng: inout RandomGenerator) -> (features: [Float], labels: [Int]) {
        guard !epochOrder.isEmpty, perClass > 0 else { return ([], []) }
        var features: [Float] = [], labels: [Int] = []
        for j in 0..<options.classesPerBatch {
            let c = epochOrder[(step * options.classesPerBatch + j) % epochOrder.count]
            features += gaussians.sample(c, count: perClass, rng: &rng)
            labels += [Int](repeating: c, count: perClass)
        }
        return (features, labels)
    }

    /// Samples of the old class of every hard pair, with the pair's (old, new) per row.
    func hingeRows(rng: inout RandomGenerator) -> (features: [Float], old: [Int], new: [Int]) {
        guard perPair > 0 else { return ([], [], []) }
        var features: [Float] = [], olds: [Int] = [], news: [Int] = []
        for p in pairs {
            features += gaussians.sample(p.old, count: perPair, rng: &rng)
            olds += [Int](repeating: p.old, count: perPair)
            news += [Int](repeating: p.new, count: perPair)
        }
        return (features, olds, news)
    }

    /// mean relu(−f·t_old + f·t_new + margin) over rows f (adapted, L2-normalised) [r, D].
    static func hinge(_ f: Variable, old: Tensor, new: Tensor, margin: Float = 0.1) throws -> Variable {
        let toOld = try (f * Variable(old)).sum(axes: [1]), toNew = try (f * Variable(new)).sum(axes: [1])
        let margins = Variable(Tensor(unchecked: toOld.shape, storage: [Float](repeating: margin, count: toOld.value.count)))
        return try (toNew - toOld + margins).relu().mean()
    }
}
