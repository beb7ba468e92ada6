/// A first-order optimiser over parameters identified by their index in the `parameters` array.
///
/// The optimiser keeps per-parameter state (momentum buffers, moments, step counts) by index, so
/// pass the same parameters in the same order at every step. A `nil` gradient means the parameter
/// is frozen for this step: it is left untouched and its state (including its step count) does not
/// advance, as in `torch.optim`.
public protocol Optimizer: Sendable {
    /// Applies one update to every parameter that has a gradient.
    mutating func step(parameters: inout [Tensor], gradients: [Tensor?], learningRate: Float) throws

    /// The optimiser state for checkpoints, keyed `"<parameter index>.<name>"`
    /// (e.g. `"0.exp_avg"`, `"0.step"`); hyper-parameters are not included.
    var stateTensors: [String: Tensor] { get }

    /// Replaces the state with one produced by `stateTensors`.
    mutating func loadState(_ s: [String: Tensor]) throws
}

/// Checks shared by all optimisers.
enum OptimizerChecks {
    static func arguments(_ op: String, parameters: [Tensor], gradients: [Tensor?], learningRate: Float) throws(TensorError) {
        guard parameters.count == gradients.count else {
            throw .invalidArgument(op: op, reason: "\(parameters.count) parameters but \(gradients.count) gradients")
        }
        guard learningRate.isFinite, learningRate >= 0 else {
            throw .invalidArgument(op: op, reason: "learning rate must be finite and ≥ 0, got \(learningRate)")
        }
        for (i, (p, g)) in zip(parameters, gradients).enumerated() {
            if let g, g.shape != p.shape {
                throw .shapeMismatch(op: op, shapes: [p.shape, g.shape], reason: "gradient of parameter \(i) does not match the parameter's shape")
            }
        }
    }

    static func stateShape(_ op: String, index: Int, state: Tensor, parameter: Tensor) throws(TensorError) {
        guard state.shape == parameter.shape else {
            throw .shapeMismatch(op: op, shapes: [parameter.shape, state.shape], reason: "saved state of parameter \(index) does not match the parameter's shape")
        }
    }

    /// Splits `"12.exp_avg"` into (12, "exp_avg").
    static func parseKey(_ op: String, _ key: String) throws(TensorError) -> (index: Int, name: String) {
        guard let dot = key.firstIndex(of: "."), let index = Int(key[..<dot]), index >= 0 else {
            throw .invalidArgument(op: op, reason: "unrecognised state key \"\(key)\"")
        }
        return (index, String(key[key.index(after: dot)...]))
    }

    /// Reads a step count saved as a scalar tensor.
    static func stepCount(_ op: String, key: String, _ t: Tensor) throws(TensorError) -> Int {
        guard let v = t.scalar, v.isFinite, v >= 0, v == v.rounded(), v <= Float(1 << 24) else {
            throw .invalidArgument(op: op, reason: "state \"\(key)\" is not a valid step count: \(t)")
        }
        return Int(v)
    }
}

extension Array {
    /// Grows the array with `filler` so that `index` is valid.
    mutating func ensureIndex(_ index: Int, filler: Element) {
        if index >= count { append(contentsOf: repeatElement(filler, count: index - count + 1)) }
    }
}
