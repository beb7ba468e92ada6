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
/// see `ContinualRunner`), and RAPF (`rapf`: default init, Gaussian replay and the hard-pair hinge of `ClassGaussians`,
/// soft-svd fusion); `replay = gaussian` adds the replay to any linear adapter (e.g. with top-k retention).
public struct LinearAdapter: ContinualMethod {
    public let dimension: Int
    public let config: RunConfig
    var state: AdapterParameters
    /// Class statistics for replay (nil without replay). Kept out of `state`: retention applies to W only.
    var gaussians: ClassGaussians?

    /// `rng` is only used for the `default` initialisation.
    public init(dimension: Int, classCount: Int, config: RunConfig, rng: inout RandomGenerator) {
        self.dimension = dimension
        self.config = config
        if config.replay == .gaussian { gaussians = ClassGaussians(classCount: classCount, dimension: dimension) }
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
        case .rapf: "rapf (linear adapter, Gaussian replay, hard-pair hinge, decomposed fusion)"
        default: "linear adapter"
        }
        let r = config.rapf
        let replay = config.replay == .gaussian
            ? ", Gaussian replay (beta \(r.beta), \(r.classesPerBatch) classes per batch, shrinkage \(r.shrinkage))"
                + (r.hinge ? ", hinge on text pairs closer than \(r.threshold)" : "")
            : ""
        return "\(name): W [\(dimension), \(dimension)], no bias, init \(config.`init`.rawValue)"
            + (config.normalizeInput ? ", input L2-normalised" : "")
            + ", output L2-normalised, retention \(state.rule), loss over \(config.lossClasses.rawValue) classes" + replay
    }

    public mutating func beginTask(_ t: Int, context: TaskContext) throws { state.beginTask() }

    public mutating func train(task: Int, data: TaskData, context: TaskContext, rng: inout RandomGenerator,
                               log: (TrainingEvent) -> Void) throws {
        let text = Variable(try context.textFeatures(for: context.lossClasses))
        let scale = context.logitScale
        let normalizeInput = config.normalizeInput
        var params = state.ordered
        func adapted(_ p: [Variable], _ x: Tensor) throws -> Variable {
            var input = Variable(x)
            if normalizeInput { input = try input.l2Normalized() }
            return try Variable.linear(input, weight: p[0], bias: nil)
        }
        try GradientTrainer(config: config).train(
            parameters: &params, names: state.names, data: data, lossClasses: context.lossClasses, task: task,
            rng: &rng, log: log, extras: try replayExtras(context: context, adapted: adapted)
        ) { p, x in
            try Variable.cosineLogits(image: try adapted(p, x), text: text, scale: scale)
        }
        state.setOrdered(params)
        try gaussians?.record(data, shrinkage: config.rapf.shrinkage)
    }

    /// RAPF's replay rows and hinge for task t ≥ 1 (nil without replay, or before any class has statistics).
    func replayExtras(context: TaskContext, adapted: @escaping ([Variable], Tensor) throws -> Variable) throws -> GradientTrainer.BatchExtras? {
        guard let gaussians, context.task >= 1 else { return nil }
        var plan = ReplayPlan(gaussians: gaussians, options: config.rapf, context: context)
        guard !plan.old.isEmpty else { return nil }
        let d = dimension, text = context.textFeatures
        return GradientTrainer.BatchExtras(
            beginEpoch: { rng in plan.beginEpoch(rng: &rng) },
            rows: { step, rng in plan.replayRows(step: step, rng: &rng) },
            loss: { p, rng in
                let (features, olds, news) = plan.hingeRows(rng: &rng)
                guard !olds.isEmpty else { return nil }
                let f = try adapted(p, Tensor(unchecked: [olds.count, d], storage: features)).l2Normalized()
                return try ReplayPlan.hinge(f, old: try text.gather(rows: olds, indexShape: [olds.count]),
                                            new: try text.gather(rows: news, indexShape: [news.count]))
            })
    }

    /// Class statistics are large ([C, D, D]) with replay: then only the latest task's copy is kept.
    public var savesEveryTask: Bool { gaussians == nil }

    public mutating func endTask(_ t: Int, context: TaskContext) throws { try state.endTask(t) }

    public func logits(features: Tensor, seenClasses: [Int], context: TaskContext) throws -> Tensor {
        let text = try context.textFeatures(for: seenClasses).l2Normalized()
        let x = config.normalizeInput ? try features.l2Normalized() : features
        let y = try Tensor.linear(x, weight: weight, bias: nil).l2Normalized()
        return try Tensor.matmul(y, text, transposeB: true).scaled(by: context.logitScale)
    }

    public var parameters: [String: Tensor] { state.values.merging(gaussians?.parameters ?? [:]) { a, _ in a } }

    public mutating func load(parameters: [String: Tensor]) throws {
        try state.load(parameters.filter { !ClassGaussians.names.contains($0.key) })
        try gaussians?.load(parameters)
    }
}
