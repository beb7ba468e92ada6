import TensorKit

/// Parameter retention (method.md §6): after training task t ≥ 1, each adapter tensor is merged
/// from θ_old (its value just before task t) and θ_new (its value after training task t). Applied
/// once per task, per tensor, never after task 0 and never during training.
///
/// - `topK(rho:)` — the seed-paper reconstruction (§6.1): Δ = θ_new − θ_old; the ⌈ρ·numel⌉ entries
///   with the largest |Δ| keep the new value, the others revert to θ_old. Ties in |Δ| go to the
///   lower flat (row-major) index, so the result is deterministic.
/// - `soft(bias:)` — RAPF's fusion in W space (§6.2 with U = I): M = min(1, |Δ|/max|Δ| + b),
///   θ = M⊙θ_new + (1−M)⊙θ_old; when max|Δ| = 0 (nothing changed) θ_new is kept.
/// - `softSVD(bias:)` — RAPF's decomposed fusion (§6.2): θ_old = U S Vᵀ (LAPACK sgesdd_, full U),
///   R_old = Uᵀθ_old, R_new = Uᵀθ_new, M from |R_new − R_old| as in `soft`,
///   R = M⊙R_new + (1−M)⊙R_old, θ = U·R. Defined for 2-D tensors (any m×n: U is the full m×m
///   basis, so M ≡ 1 gives θ_new back); tensors of other ranks (biases, LayerNorm weights) fall
///   back to `soft` with the same b, since they have no matrix basis to decompose.
public enum RetentionRule: Sendable, Equatable, CustomStringConvertible {
    case none
    case topK(rho: Double)
    case soft(bias: Float)
    case softSVD(bias: Float)

    public init(kind: RetentionKind, rho: Double, bias: Double) {
        switch kind {
        case .none: self = .none
        case .topk: self = .topK(rho: rho)
        case .soft: self = .soft(bias: Float(bias))
        case .softSVD: self = .softSVD(bias: Float(bias))
        }
    }

    public var description: String {
        switch self {
        case .none: "none"
        case let .topK(rho): "topk(rho=\(rho))"
        case let .soft(bias): "soft(b=\(bias))"
        case let .softSVD(bias): "soft-svd(b=\(bias))"
        }
    }

    /// The retained tensor for one parameter.
    public func apply(old: Tensor, new: Tensor, name: String = "tensor") throws(ContinualError) -> Tensor {
        guard old.shape == new.shape else {
            throw .invalidParameters(name: name, reason: "retention needs equal shapes, got old \(old.shape) and new \(new.shape)")
        }
        switch self {
        case .none:
            return new
        case let .topK(rho):
            guard rho >= 0 && rho <= 1 else { throw .invalidParameters(name: name, reason: "rho must be in [0, 1], got \(rho)") }
            return Self.topK(old: old, new: new, rho: rho)
        case let .soft(bias):
            return Self.soft(old: old, new: new, bias: bias)
        case let .softSVD(bias):
            guard old.rank == 2 else { return Self.soft(old: old, new: new, bias: bias) }
            return try Self.softSVD(old: old, new: new, bias: bias)
        }
    }

    /// Applies the rule to every tensor of `new` that also has an `old` value.
    public func apply(old: [String: Tensor], new: [String: Tensor]) throws(ContinualError) -> [String: Tensor] {
        if self == .none { return new }
        var out = new
        for name in new.keys.sorted() {
            guard let o = old[name] else { throw .invalidParameters(name: name, reason: "no snapshot θ_old for retention") }
            out[name] = try apply(old: o, new: new[name]!, name: name)
        }
        return out
    }

    /// Number of entries kept by top-k: ⌈ρ·n⌉, where a product within 1e-9 (relative) of an
    /// integer counts as that integer (so ρ = 0.3, n = 10 keeps 3, not 4 from 3.0000000000000004).
    public static func keptCount(rho: Double, count n: Int) -> Int {
        let x = rho * Double(n)
        let nearest = x.rounded()
        let k = abs(x - nearest) <= 1e-9 * max(1, x) ? nearest : x.rounded(.up)
        return min(n, max(0, Int(k)))
    }

    static func topK(old: Tensor, new: Tensor, rho: Double) -> Tensor {
        let n = old.count
        let k = keptCount(rho: rho, count: n)
        var out = old
        guard k > 0 else { return out }
        let change = (0..<n).map { abs(new.storage[$0] - old.storage[$0]) }
        // Largest |Δ| first; equal |Δ| → lower index first.
        let order = (0..<n).sorted { change[$0] > change[$1] || (change[$0] == change[$1] && $0 < $1) }
        for i in order.prefix(k) { out.storage[i] = new.storage[i] }
        return out
    }

    /// M⊙new + (1−M)⊙old with M = min(1, |new − old| / max|new − old| + b); entries with M = 1
    /// are copied from `new` exactly.
    static func soft(old: Tensor, new: Tensor, bias: Float) -> Tensor {
        let n = old.count
        var maxChange: Float = 0
        for i in 0..<n { maxChange = max(maxChange, abs(new.storage[i] - old.storage[i])) }
        guard maxChange > 0 else { return new }
        var out = new
        for i in 0..<n {
            let d = new.storage[i] - old.storage[i]
            let m = min(1, abs(d) / maxChange + bias)
            out.storage[i] = m == 1 ? new.storage[i] : m * new.storage[i] + (1 - m) * old.storage[i]
        }
        return out
    }

    static func softSVD(old: Tensor, new: Tensor, bias: Float) throws(ContinualError) -> Tensor {
        let svd = try SingularValueDecomposition(old)
        do {
            let rOld = try Tensor.matmul(svd.u, old, transposeA: true)
            let rNew = try Tensor.matmul(svd.u, new, transposeA: true)
            let fused = soft(old: rOld, new: rNew, bias: bias)
            return try Tensor.matmul(svd.u, fused)
        } catch {
            throw .invalidParameters(name: "soft-svd", reason: "\(error)")
        }
    }
}
