/// Adam with decoupled weight decay, as `torch.optim.AdamW`: first `p ← p · (1 − lr · weightDecay)`,
/// then the Adam update of `Adam` without any L2 term in the gradient.
public struct AdamW: Optimizer {
    private var core: AdamMoments

    public var beta1: Float { core.beta1 }
    public var beta2: Float { core.beta2 }
    public var epsilon: Float { core.epsilon }
    public var weightDecay: Float { core.weightDecay }

    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
        core = AdamMoments(beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay, decoupledWeightDecay: true)
    }

    public mutating func step(parameters: inout [Tensor], gradients: [Tensor?], learningRate: Float) throws {
        try core.step("AdamW.step", parameters: &parameters, gradients: gradients, learningRate: learningRate)
    }

    public var stateTensors: [String: Tensor] { core.stateTensors }

    public mutating func loadState(_ s: [String: Tensor]) throws {
        try core.loadState("AdamW.loadState", s)
    }
}
