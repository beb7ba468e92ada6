/// Adam with L2 weight decay added to the gradient, as `torch.optim.Adam`:
///
///     g ← g + weightDecay · p
///     m ← β1·m + (1 − β1)·g,   v ← β2·v + (1 − β2)·g²,   t ← t + 1   (per parameter)
///     p ← p − lr · (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε)
public struct Adam: Optimizer {
    private var core: AdamMoments

    public var beta1: Float { core.beta1 }
    public var beta2: Float { core.beta2 }
    public var epsilon: Float { core.epsilon }
    public var weightDecay: Float { core.weightDecay }

    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0) {
        core = AdamMoments(beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay, decoupledWeightDecay: false)
    }

    public mutating func step(parameters: inout [Tensor], gradients: [Tensor?], learningRate: Float) throws {
        try core.step("Adam.step", parameters: &parameters, gradients: gradients, learningRate: learningRate)
    }

    public var stateTensors: [String: Tensor] { core.stateTensors }

    public mutating func loadState(_ s: [String: Tensor]) throws {
        try core.loadState("Adam.loadState", s)
    }
}
