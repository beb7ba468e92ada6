import TensorKit

/// Self-attention Adapter (method.md §4). The paper says only that it operates on the image
/// embedding after the image encoder; self-attention over a single 512-d token is degenerate
/// (softmax over one key is 1, so the block collapses to a linear map), so the adapter must attend
/// over a set. Two readings are implemented, chosen by `attention.reading`:
///
/// - `chunks` (default): the D-dim embedding is split into T tokens of D/T dims (T = 8 ⇒ 64-dim
///   tokens for D = 512), a learned positional embedding (init 0) is added, and one pre-LN
///   transformer block runs at token width D/T: LN → multi-head self-attention over the T tokens
///   (4 heads by default) → output projection → residual; LN → MLP (hidden 4×, GELU) → residual.
///   The tokens are concatenated back to D. It works from the cached 512-d embeddings alone and is
///   deterministic per image (no attention across the batch, unlike reading R2). Chosen as the
///   default because method.md's preferred reading R1 (the 197 ViT output tokens) needs per-image
///   token caches of ~200 KB that the feature cache does not hold, and R3 makes the adapter depend
///   on the set of seen classes.
/// - `crossmodal` (method.md R3): tokens = {image embedding} ∪ {text embeddings of the seen
///   classes}, width D; the image token's query attends over the keys/values of all of them, and
///   output = the image token's row (with a single block the text tokens' own output rows are
///   never used, so they are not computed). No positional embedding: the text tokens form a set.
///   The adapter then depends on which classes have been seen (not on the batch).
///
/// In both readings the attention output projection and the MLP's second layer are zero-
/// initialised, so the adapter starts as the identity (task 0 starts from zero-shot predictions).
/// Q/K/V projections: Xavier-uniform weights, zero biases (PyTorch nn.MultiheadAttention);
/// MLP first layer: PyTorch nn.Linear default init. LayerNorm ε = 1e-5. The output is then
/// L2-normalised and compared with the text embeddings as in the linear adapter. Parameter
/// retention applies element-wise per tensor to every weight (`soft-svd` uses the SVD basis for
/// the 2-D ones and `soft` for vectors).
public struct AttentionAdapter: ContinualMethod {
    public let dimension: Int
    public let config: RunConfig
    /// Width of one token: D/T for chunks, D for crossmodal.
    public let tokenWidth: Int
    var state: AdapterParameters

    public init(dimension: Int, config: RunConfig, rng: inout RandomGenerator) throws(ContinualError) {
        let options = config.attention
        let tokens = options.reading == .chunks ? options.tokens : 1
        guard tokens >= 1, dimension % tokens == 0 else {
            throw .invalidConfig(key: "attention.tokens", reason: "embedding width \(dimension) is not divisible by \(tokens) tokens")
        }
        let w = dimension / tokens
        guard options.heads >= 1, w % options.heads == 0 else {
            throw .invalidConfig(key: "attention.heads", reason: "token width \(w) is not divisible by \(options.heads) heads")
        }
        let hidden = options.mlpRatio * w
        let bound = (6 / Float(2 * w)).squareRoot() // Xavier uniform for a w×w matrix
        func zeros(_ shape: [Int]) -> Tensor { Tensor(unchecked: shape, storage: [Float](repeating: 0, count: shape.reduce(1, *))) }
        func ones(_ n: Int) -> Tensor { Tensor(unchecked: [n], storage: [Float](repeating: 1, count: n)) }
        var named: [(String, Tensor)] = []
        if options.reading == .chunks { named.append(("pos", zeros([tokens, w]))) }
        named += [("ln1.weight", ones(w)), ("ln1.bias", zeros([w]))]
        for proj in ["q", "k", "v"] {
            named.append(("attn.\(proj).weight", Tensor.uniform(shape: [w, w], low: -bound, high: bound, using: &rng)))
            named.append(("attn.\(proj).bias", zeros([w])))
        }
        named += [("attn.out.weight", zeros([w, w])), ("attn.out.bias", zeros([w])),
                  ("ln2.weight", ones(w)), ("ln2.bias", zeros([w])),
                  ("mlp.fc1.weight", Tensor.linearWeightDefault(outFeatures: hidden, inFeatures: w, using: &rng)),
                  ("mlp.fc1.bias", Tensor.linearBiasDefault(outFeatures: hidden, inFeatures: w, using: &rng)),
                  ("mlp.fc2.weight", zeros([w, hidden])), ("mlp.fc2.bias", zeros([w]))]
        self.dimension = dimension
        self.config = config
        self.tokenWidth = w
        state = AdapterParameters(named, rule: RetentionRule(kind: config.retention, rho: config.rho, bias: config.bias))
    }

    public var description: String {
        let o = config.attention
        let reading = o.reading == .chunks
            ? "chunks (\(o.tokens) tokens of \(tokenWidth) dims of the image embedding, learned positions)"
            : "crossmodal (image token attends over itself and the seen classes' text embeddings)"
        return "attention adapter: reading \(reading), 1 pre-LN block, \(o.heads) heads, MLP \(o.mlpRatio)× GELU, "
            + "zero-init output projections (starts as identity), retention \(state.rule), "
            + "loss over \(config.lossClasses.rawValue) classes"
    }

    public mutating func beginTask(_ t: Int, context: TaskContext) throws { state.beginTask() }

    public mutating func train(task: Int, data: TaskData, context: TaskContext, rng: inout RandomGenerator,
                               log: (TrainingEvent) -> Void) throws {
        let text = Variable(try context.textFeatures(for: context.lossClasses))
        let tokens = try context.textFeatures(for: context.seenClasses)
        let scale = context.logitScale
        let names = state.names
        let forward = adapterForward
        var params = state.ordered
        try GradientTrainer(config: config).train(
            parameters: &params, names: names, data: data, lossClasses: context.lossClasses, task: task,
            rng: &rng, log: log
        ) { p, x in
            let named = Dictionary(uniqueKeysWithValues: zip(names, p))
            let y = try forward(named, x, tokens)
            return try Variable.cosineLogits(image: y, text: text, scale: scale)
        }
        state.setOrdered(params)
    }

    public mutating func endTask(_ t: Int, context: TaskContext) throws { try state.endTask(t) }

    public func logits(features: Tensor, seenClasses: [Int], context: TaskContext) throws -> Tensor {
        let text = try context.textFeatures(for: seenClasses).l2Normalized()
        let tokens = try context.textFeatures(for: context.seenClasses)
        let named = state.values.mapValues { Variable($0) }
        var parts: [Tensor] = []
        for rows in evaluationBatches(features.shape[0], size: config.evalBatchSize) {
            let x = try features.slice(axis: 0, rows)
            let y = try adapterForward(named, x, tokens).value.l2Normalized()
            parts.append(try Tensor.matmul(y, text, transposeB: true).scaled(by: context.logitScale))
        }
        return parts.isEmpty ? try Tensor(zeros: [0, seenClasses.count]) : try Tensor.concatenate(parts, axis: 0)
    }

    /// The adapted (un-normalised) embedding [B, D] for features [B, D].
    public func adapt(_ features: Tensor, seenTextFeatures: Tensor) throws -> Tensor {
        try adapterForward(state.values.mapValues { Variable($0) }, features, seenTextFeatures).value
    }

    public var parameters: [String: Tensor] { state.values }

    public mutating func load(parameters: [String: Tensor]) throws { try state.load(parameters) }

    // MARK: - Forward

    /// The reading's forward: (parameters, features [B, D], seen-class text [C, D]) → [B, D].
    var adapterForward: ([String: Variable], Tensor, Tensor) throws -> Variable {
        let heads = config.attention.heads
        switch config.attention.reading {
        case .chunks:
            let tokens = config.attention.tokens
            return { p, x, _ in try Self.chunks(p, x, tokens: tokens, heads: heads) }
        case .crossmodal:
            return { p, x, text in try Self.crossModal(p, x, text: text, heads: heads) }
        }
    }

    /// chunks: [B, D] → [B, T, D/T] (+ positions) → pre-LN block → [B, D].
    static func chunks(_ p: [String: Variable], _ x: Tensor, tokens: Int, heads: Int) throws -> Variable {
        let (b, d) = (x.shape[0], x.shape[1])
        var h = try Variable(try x.reshaped([b, tokens, d / tokens])) + p["pos"]!
        let n1 = try h.layerNorm(weight: p["ln1.weight"]!, bias: p["ln1.bias"]!)
        let a = try Variable.attention(query: try linear(n1, p, "attn.q"), key: try linear(n1, p, "attn.k"),
                                       value: try linear(n1, p, "attn.v"), heads: heads)
        h = try h + (try linear(a, p, "attn.out"))
        h = try h + (try mlp(h, p))
        return try h.reshaped([b, d])
    }

    /// crossmodal: the image token [B, 1, D] queries keys/values from itself and the C text tokens.
    static func crossModal(_ p: [String: Variable], _ x: Tensor, text: Tensor, heads: Int) throws -> Variable {
        let (b, d, c) = (x.shape[0], x.shape[1], text.shape[0])
        let image = Variable(try x.reshaped([b, 1, d]))
        let nImage = try image.layerNorm(weight: p["ln1.weight"]!, bias: p["ln1.bias"]!)    // [B, 1, D]
        let nText = try Variable(text).layerNorm(weight: p["ln1.weight"]!, bias: p["ln1.bias"]!) // [C, D]
        // Text keys/values are the same for every image: compute once, broadcast over the batch.
        let batchZeros = Variable(try Tensor(zeros: [b, c, d]))
        let keys = try Variable.concatenate([try linear(nImage, p, "attn.k"), try batchZeros + (try linear(nText, p, "attn.k"))], axis: 1)
        let values = try Variable.concatenate([try linear(nImage, p, "attn.v"), try batchZeros + (try linear(nText, p, "attn.v"))], axis: 1)
        let a = try Variable.attention(query: try linear(nImage, p, "attn.q"), key: keys, value: values, heads: heads)
        var h = try image + (try linear(a, p, "attn.out"))
        h = try h + (try mlp(h, p))
        return try h.reshaped([b, d])
    }

    static func linear(_ x: Variable, _ p: [String: Variable], _ name: String) throws -> Variable {
        try Variable.linear(x, weight: p["\(name).weight"]!, bias: p["\(name).bias"]!)
    }

    /// LN → fc1 → GELU → fc2.
    static func mlp(_ h: Variable, _ p: [String: Variable]) throws -> Variable {
        let n2 = try h.layerNorm(weight: p["ln2.weight"]!, bias: p["ln2.bias"]!)
        return try linear(try linear(n2, p, "mlp.fc1").gelu(), p, "mlp.fc2")
    }
}
