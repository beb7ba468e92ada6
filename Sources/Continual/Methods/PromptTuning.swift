import TensorKit

/// Prompt Tuning, CoOp style (method.md §5): M learned context vectors [M, width] shared by all
/// classes and all tasks, fed to the frozen text tower as
///
///     [SOT] ctx_1 … ctx_M  name-tokens  "."  [EOT]    ("class token at end")
///
/// per class (name tokens = tokenize("<name>.") with the name as stored), padded with zero vectors
/// to the longest prompt of the batch of classes; each class is pooled at its own EOT position
/// (causal attention: padding after the EOT cannot reach it). Every training step encodes all loss
/// classes with gradient to the context only (the tower's weights are constants, so only
/// activation gradients flow through it), takes cosine logits against the batch's cached image
/// embeddings (× CLIP's scale) and the cross-entropy. Init `random`: N(0, std²) with M =
/// `prompt.length` (CoOp: 16, std 0.02); `phrase`: the token embeddings of `prompt.phrase`
/// ("a photo of a", M = its token count). Parameter retention applies to the [M, width] matrix.
public struct PromptTuning: ContinualMethod {
    public let config: RunConfig
    let encoder: any PromptTextEncoder
    var state: AdapterParameters
    let startEmbedding: Tensor  // [1, width]
    let endEmbedding: Tensor    // [1, width]
    /// Token embeddings of "<name>." per original class id, filled at `beginTask` for the seen classes.
    var nameEmbeddings: [Int: Tensor] = [:]
    /// L2-normalised text features of the seen classes for evaluation, computed once at `endTask`
    /// (after retention) instead of once per evaluation batch; dropped whenever the context changes.
    var evaluationText: (classes: [Int], features: Tensor)?

    public init(encoder: any PromptTextEncoder, config: RunConfig, rng: inout RandomGenerator) throws {
        let w = encoder.width
        let context: Tensor
        switch config.prompt.`init` {
        case .random:
            context = Tensor.normal(shape: [config.prompt.length, w], std: config.prompt.std, using: &rng)
        case .phrase:
            let ids = try encoder.tokenize(config.prompt.phrase)
            guard !ids.isEmpty else {
                throw ContinualError.invalidConfig(key: "prompt.phrase", reason: "\"\(config.prompt.phrase)\" has no tokens")
            }
            context = try encoder.tokenEmbeddings(for: ids)
        }
        guard context.shape == [context.shape[0], w] else {
            throw ContinualError.invalidParameters(name: "context", reason: "token embeddings have shape \(context.shape), expected [M, \(w)]")
        }
        self.config = config
        self.encoder = encoder
        state = AdapterParameters([("context", context)],
                                  rule: RetentionRule(kind: config.retention, rho: config.rho, bias: config.bias))
        startEmbedding = try encoder.tokenEmbeddings(for: [encoder.startOfText])
        endEmbedding = try encoder.tokenEmbeddings(for: [encoder.endOfText])
    }

    public var context: Tensor { state["context"] }

    public var description: String {
        let p = config.prompt
        let initText = p.`init` == .random ? "N(0, \(p.std)²)" : "phrase \"\(p.phrase)\""
        return "prompt tuning (CoOp, class token at end): \(context.shape[0]) context vectors of width \(encoder.width), "
            + "init \(initText), shared by all classes, retention \(state.rule), loss over \(config.lossClasses.rawValue) classes"
    }

    public mutating func beginTask(_ t: Int, context: TaskContext) throws {
        state.beginTask()
        evaluationText = nil
        for c in context.seenClasses where nameEmbeddings[c] == nil {
            nameEmbeddings[c] = try nameEmbedding(c, classNames: context.classNames)
        }
    }

    public mutating func train(task: Int, data: TaskData, context: TaskContext, rng: inout RandomGenerator,
                               log: (TrainingEvent) -> Void) throws {
        let classes = context.lossClasses
        let names = context.classNames
        let scale = context.logitScale
        let this = self
        var params = state.ordered
        try GradientTrainer(config: config).train(
            parameters: &params, names: state.names, data: data, lossClasses: classes, task: task, rng: &rng, log: log
        ) { p, x in
            let text = try this.classTextFeatures(context: p[0], classes: classes, classNames: names)
            return try Variable.cosineLogits(image: Variable(x), text: text, scale: scale)
        }
        state.setOrdered(params)
    }

    public mutating func endTask(_ t: Int, context: TaskContext) throws {
        try state.endTask(t)
        evaluationText = (context.seenClasses, try textFeatures(classes: context.seenClasses, classNames: context.classNames))
    }

    public func logits(features: Tensor, seenClasses: [Int], context: TaskContext) throws -> Tensor {
        let text = if let cached = evaluationText, cached.classes == seenClasses { cached.features }
            else { try textFeatures(classes: seenClasses, classNames: context.classNames) }
        return try Tensor.matmul(try features.l2Normalized(), text, transposeB: true).scaled(by: context.logitScale)
    }

    public var parameters: [String: Tensor] { state.values }

    public mutating func load(parameters: [String: Tensor]) throws {
        try state.load(parameters)
        evaluationText = nil
    }

    /// L2-normalised text features [classes.count, E] with the current context (no gradient).
    func textFeatures(classes: [Int], classNames: [String]) throws -> Tensor {
        try classTextFeatures(context: Variable(self.context), classes: classes, classNames: classNames).value.l2Normalized()
    }

    // MARK: - Prompts

    /// Text embeddings [classes.count, E] of the prompts built with `context` [M, width]
    /// (a variable: gradients flow back to it through the frozen tower).
    ///
    /// Every prompt starts with the same rows [SOT, ctx_1 … ctx_M], so they go to the tower once as
    /// a shared prefix; each class adds only its suffix rows "<name> . [EOT]" (zero-padded to the
    /// longest), which is exact under causal attention and saves most of the tower's work.
    public func classTextFeatures(context: Variable, classes: [Int], classNames: [String]) throws -> Variable {
        let m = context.shape[0], w = encoder.width
        var names: [Tensor] = []
        for c in classes { names.append(try nameEmbeddings[c] ?? nameEmbedding(c, classNames: classNames)) }
        let suffixLengths = names.map { $0.shape[0] + 1 }
        let length = suffixLengths.max() ?? 1
        guard 1 + m + length <= encoder.contextLength else {
            let worst = classes[suffixLengths.firstIndex(of: length)!]
            throw ContinualError.invalidData("prompt of class \(worst) (\"\(classNames[worst])\") has \(1 + m + length) tokens, more than the context length \(encoder.contextLength)")
        }
        var suffixes = [Float](repeating: 0, count: classes.count * length * w)
        for (k, name) in names.enumerated() {
            let row0 = k * length * w
            for j in 0..<name.count { suffixes[row0 + j] = name.storage[j] }
            let eotStart = row0 + name.shape[0] * w
            for j in 0..<w { suffixes[eotStart + j] = endEmbedding.storage[j] }
        }
        let prefix = try Variable.concatenate([Variable(startEmbedding), context], axis: 0)
        return try encoder.encode(sharedPrefix: prefix, suffixes: Variable(Tensor(unchecked: [classes.count, length, w], storage: suffixes)),
                                  endOfText: names.map { $0.shape[0] })
    }

    func nameEmbedding(_ c: Int, classNames: [String]) throws -> Tensor {
        guard c >= 0 && c < classNames.count else { throw ContinualError.invalidData("no class name for label \(c)") }
        let ids = try encoder.tokenize("\(classNames[c]).")
        let e = try encoder.tokenEmbeddings(for: ids)
        guard e.shape == [ids.count, encoder.width] else {
            throw ContinualError.invalidData("token embeddings of class \(c) have shape \(e.shape), expected [\(ids.count), \(encoder.width)]")
        }
        return e
    }
}
