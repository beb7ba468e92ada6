import TensorKit

/// The trainable tensors of an adapter, in a fixed training order, with the θ_old snapshot that
/// parameter retention needs. Shared by the linear, attention and prompt methods.
struct AdapterParameters: Sendable {
    /// Names in optimiser order (the optimiser keys its state by index).
    let names: [String]
    var values: [String: Tensor]
    /// θ_old: the values at the start of the current task.
    private(set) var snapshot: [String: Tensor]?
    let rule: RetentionRule

    init(_ named: [(String, Tensor)], rule: RetentionRule) {
        names = named.map(\.0)
        values = Dictionary(uniqueKeysWithValues: named)
        self.rule = rule
    }

    subscript(_ name: String) -> Tensor { values[name]! }

    var ordered: [Tensor] { names.map { values[$0]! } }

    mutating func setOrdered(_ tensors: [Tensor]) {
        for (name, t) in zip(names, tensors) { values[name] = t }
    }

    /// Snapshot θ_old (call at the start of every task).
    mutating func beginTask() { snapshot = values }

    /// Parameter retention after task t ≥ 1 (nothing after task 0).
    mutating func endTask(_ t: Int) throws(ContinualError) {
        defer { snapshot = nil }
        guard t >= 1, let old = snapshot else { return }
        values = try rule.apply(old: old, new: values)
    }

    /// Replaces the values with saved ones: same names, same shapes, all finite.
    mutating func load(_ saved: [String: Tensor]) throws(ContinualError) {
        for name in saved.keys.sorted() where values[name] == nil {
            throw .invalidParameters(name: name, reason: "unexpected tensor (expected \(names.joined(separator: ", ")))")
        }
        var loaded = values
        for name in names {
            guard let t = saved[name] else { throw .invalidParameters(name: name, reason: "missing") }
            guard t.shape == values[name]!.shape else {
                throw .invalidParameters(name: name, reason: "shape \(t.shape), expected \(values[name]!.shape)")
            }
            guard t.storage.allSatisfy(\.isFinite) else { throw .invalidParameters(name: name, reason: "non-finite values") }
            loaded[name] = t
        }
        values = loaded
        snapshot = nil
    }
}

/// Row blocks of `rows` for batched evaluation.
func evaluationBatches(_ rows: Int, size: Int) -> [Range<Int>] {
    stride(from: 0, to: rows, by: max(1, size)).map { $0..<min(rows, $0 + max(1, size)) }
}
