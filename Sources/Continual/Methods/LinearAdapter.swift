import TensorKit

/// Linear Adapter (method.md §3; RAPF's verified form): W ∈ R^{D×D}, no bias, no residual,
/// y = W·f on the raw (un-normalised) image embedding f, then L2-normalised;
/// logits = scale · cos(W f, text_c) over the requested classes.
///
/// W is stored [out, in] like PyTorch's `nn.Linear` (so y = f·Wᵀ on row vectors, `Variable.linear`).
/// Init `identity` starts at exact zero-shot predictions; `default` is PyTorch's nn.Linear init
/// U(−1/√D, 1/√D) (RAPF's choice). Parameter retention (after tasks t ≥ 1) applies to W.
///
/// Also serves the baselines `finetune` (no retention) and `joint` (trained once on all classes,
/// see `ContinualRunner`).
public struct LinearAdapter: ContinualMethod {
    public let dimension: Int
    public let config: RunConfig
    var state: AdapterParameters

    /// `rng` is only used for the `default` initialisation.
    public init(dimension: Int, config: RunConfig, rng: inout RandomGenerator) {
        self.dimension = dimension
        self.config = config
        let weight = switch config.`init` {
        case .identity: Tensor.identity(dimension)
        case .default: Tensor.linearWeightDefault(outFeatures: dimension, inFeatures: dimension, using: &rng)
        }
        state = AdapterParameters([("weight", weight)], rule: RetentionRule(kind: config.retention, rho: config.rho, bias: config.bias))
    }

    public var weight: Tensor { state["weight"] }

    public var description: String {
        let name = switch config.method {
        case .finetune: "finetune (linear adapter without retention)"
        case .joint: "joint (linear adapter trained once on all classes; upper bound)"
        default: "linear adapter"
        }
        return "\(name): W [\(dimension), \(dimension)], no bias, init \(config.`init`.rawValue)"
            + (config.normalizeInput ? ", input L2-normalised" : "")
            + ", output L2-normalised, retention \(state.rule), loss over \(config.lossClasses.rawValue) classes"
    }

    public mutating func beginTask(_ t: Int, context: TaskContext) throws { state.beginTask() }

    public mutating func train(task: Int, data: TaskData, context: TaskContext, rng: inout RandomGenerator,
                               log: (TrainingEvent) -> Void) throws {
        let text = Variable(try context.textFeatures(for: context.lossClasses))
        let scale = context.logitScale
        let normalizeInput = config.normalizeInput
        var params = state.ordered
        try GradientTrainer(config: config).train(
            parameters: &params, names: state.names, data: data, lossClasses: context.lossClasses, task: task,
            rng: &rng, log: log
        ) { p, x in
            var input = Variable(x)
            if normalizeInput { input = try input.l2Normalized() }
            let y = try Variable.linear(input, weight: p[0], bias: nil)
            return try Variable.cosineLogits(image: y, text: text, scale: scale)
        }
        state.setOrdered(params)
    }

    public mutating func endTask(_ t: Int, context: TaskContext) throws { try state.endTask(t) }

    public func logits(features: Tensor, seenClasses: [Int], context: TaskContext) throws -> Tensor {
        let text = try context.textFeatures(for: seenClasses).l2Normalized()
        let x = config.normalizeInput ? try features.l2Normalized() : features
        let y = try Tensor.linear(x, weight: weight, bias: nil).l2Normalized()
        return try Tensor.matmul(y, text, transposeB: true).scaled(by: context.logitScale)
    }

    public var parameters: [String: Tensor] { state.values }

    public mutating func load(parameters: [String: Tensor]) throws { try state.load(parameters) }
}
