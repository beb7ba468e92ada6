/// Reverse-mode automatic differentiation.
///
/// A `Variable` wraps a tensor. Every operation on variables records, in its result, the inputs
/// and a closure that maps the result's gradient to the inputs' gradients: together the results
/// form the tape. `gradients(of:)` replays it backwards in reverse topological order.
///
/// Only variables that require a gradient are recorded: a leaf made with `requiresGrad: false`
/// (a frozen weight, an input) takes part in the forward pass but stores and receives no gradient,
/// and an operation whose inputs all are constant records nothing. A frozen CLIP tower therefore
/// still passes gradients through to learnable inputs (prompt vectors) without any gradient for
/// its own weights.
public final class Variable: @unchecked Sendable {
    public let value: Tensor
    public let requiresGrad: Bool
    let inputs: [Variable]
    /// Upstream gradient → one gradient per input (nil where the input needs none).
    let backward: ((Tensor) throws(TensorError) -> [Tensor?])?

    /// A leaf: a parameter (`requiresGrad: true`) or a constant.
    public init(_ value: Tensor, requiresGrad: Bool = false) {
        self.value = value
        self.requiresGrad = requiresGrad
        self.inputs = []
        self.backward = nil
    }

    /// An operation result. The closure is dropped when no input needs a gradient.
    init(_ value: Tensor, inputs: [Variable], backward: @escaping (Tensor) throws(TensorError) -> [Tensor?]) {
        self.value = value
        let needed = inputs.contains { $0.requiresGrad }
        self.requiresGrad = needed
        self.inputs = needed ? inputs : []
        self.backward = needed ? backward : nil
    }

    public var shape: [Int] { value.shape }
}

/// Gradients of a scalar with respect to the variables that required them.
public struct Gradients: @unchecked Sendable {
    var table: [ObjectIdentifier: Tensor] = [:]

    public subscript(_ v: Variable) -> Tensor? { table[ObjectIdentifier(v)] }
}

extension Variable {
    /// Backpropagates from this variable. Without `seed` the variable must hold one element
    /// (a loss) and its gradient is 1.
    public func gradients(seed: Tensor? = nil) throws(TensorError) -> Gradients {
        let start: Tensor
        if let seed {
            guard seed.shape == shape else {
                throw .shapeMismatch(op: "backward", shapes: [shape, seed.shape], reason: "seed gradient shape differs")
            }
            start = seed
        } else {
            guard value.count == 1 else {
                throw .shapeMismatch(op: "backward", shapes: [shape], reason: "needs a one-element loss or a seed gradient")
            }
            start = Tensor(unchecked: shape, storage: [1])
        }
        var grads = Gradients()
        guard requiresGrad else { return grads }

        // Reverse topological order by iterative depth-first search (deterministic: inputs in order).
        var order: [Variable] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Variable, Bool)] = [(self, false)]
        while let (v, expanded) = stack.popLast() {
            if expanded { order.append(v); continue }
            guard visited.insert(ObjectIdentifier(v)).inserted else { continue }
            stack.append((v, true))
            for input in v.inputs.reversed() where input.requiresGrad && !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }

        grads.table[ObjectIdentifier(self)] = start
        for v in order.reversed() {
            guard let backward = v.backward, let g = grads.table[ObjectIdentifier(v)] else { continue }
            let inputGrads = try backward(g)
            for (input, ig) in Swift.zip(v.inputs, inputGrads) where input.requiresGrad {
                guard let ig else { continue }
                let key = ObjectIdentifier(input)
                if let existing = grads.table[key] {
                    grads.table[key] = try existing + ig
                } else {
                    grads.table[key] = ig
                }
            }
            // Intermediate gradients are no longer needed once passed on.
            if !v.inputs.isEmpty { grads.table[ObjectIdentifier(v)] = nil }
        }
        return grads
    }
}
