import TensorKit

// Building blocks shared by both towers. Weights are `Variable`s: frozen (requiresGrad false)
// when loaded from a checkpoint, so a forward pass records nothing unless an input needs a
// gradient (prompt tuning), and then gradients pass through without being stored for weights.
// Linear weights are kept as [out, in], PyTorch's nn.Linear layout.

public struct LayerNorm: Sendable {
    public var weight: Variable
    public var bias: Variable
    public var epsilon: Float

    public func callAsFunction(_ x: Variable) throws(TensorError) -> Variable {
        try x.layerNorm(weight: weight, bias: bias, epsilon: epsilon)
    }
}

public struct Linear: Sendable {
    public var weight: Variable
    public var bias: Variable?

    public func callAsFunction(_ x: Variable) throws(TensorError) -> Variable {
        try Variable.linear(x, weight: weight, bias: bias)
    }
}

/// Multi-head self-attention with separate Q, K, V projections (OpenAI's packed in_proj is split on load).
public struct SelfAttention: Sendable {
    public var query: Linear
    public var key: Linear
    public var value: Linear
    public var output: Linear
    public var heads: Int

    public func callAsFunction(_ x: Variable, mask: SoftmaxMask) throws(TensorError) -> Variable {
        let o = try Variable.attention(query: try query(x), key: try key(x), value: try value(x), heads: heads, mask: mask)
        return try output(o)
    }
}

/// Pre-LayerNorm residual block: x + attn(ln1(x)), then x + mlp(ln2(x)).
public struct ResidualAttentionBlock: Sendable {
    public var layerNorm1: LayerNorm
    public var attention: SelfAttention
    public var layerNorm2: LayerNorm
    public var fc1: Linear
    public var fc2: Linear
    public var activation: Activation

    public func callAsFunction(_ x: Variable, mask: SoftmaxMask) throws(TensorError) -> Variable {
        try mlpResidual(try x + (try attention(try layerNorm1(x), mask: mask)))
    }

    /// x + mlp(ln2(x)), the second half of the block.
    func mlpResidual(_ x: Variable) throws(TensorError) -> Variable {
        try x + (try fc2(try fc1(try layerNorm2(x)).activation(activation)))
    }
}

extension ResidualAttentionBlock {
    /// The causal block for sequences that all begin with the same `prefix` [P, W] and continue with
    /// their own `suffix` rows [B, S, W]. Under a causal mask the prefix states do not depend on what
    /// follows, so they are computed once; suffix queries attend to the prefix's keys and values
    /// (broadcast to every sequence, gradients summed back) and to their own, causally.
    public func callAsFunction(prefix: Variable, suffix: Variable) throws(TensorError) -> (prefix: Variable, suffix: Variable) {
        let a = attention
        let hp = try layerNorm1(prefix), hs = try layerNorm1(suffix)
        let kp = try a.key(hp), vp = try a.value(hp)
        let ap = try Variable.attention(query: try a.query(hp).reshaped([1] + hp.shape), key: try kp.reshaped([1] + hp.shape),
                                        value: try vp.reshaped([1] + hp.shape), heads: a.heads, mask: .causal)
        let zeros = Variable(try Tensor(zeros: [suffix.shape[0]] + prefix.shape))
        let keys = try Variable.concatenate([try zeros + kp, try a.key(hs)], axis: 1)
        let values = try Variable.concatenate([try zeros + vp, try a.value(hs)], axis: 1)
        let asuf = try Variable.attention(query: try a.query(hs), key: keys, value: values, heads: a.heads, mask: .causal)
        return (try mlpResidual(try prefix + (try a.output(try ap.reshaped(prefix.shape)))),
                try mlpResidual(try suffix + (try a.output(asuf))))
    }
}
