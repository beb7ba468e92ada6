import TensorKit

/// Every knob of one continual run, with the defaults of method.md (§3–§7; RAPF's verified
/// training settings where the seed paper is silent).
///
/// JSON (Codable): the keys of `RunConfig.fields` (kebab-case); nested options live under `attention` and `prompt`.
/// A config file may give any subset of keys (the rest keep their defaults); an unknown key is an
/// error. `set(key:value:)` applies a `--set path.to.key=value` override with type checking.
public struct RunConfig: Codable, Sendable, Equatable {
    /// zeroshot | linear | attention | prompt | finetune | joint | ncm | simplecil | fecam | ranpac | rapf
    public var method: MethodKind = .linear
    /// none | topk | soft | soft-svd, applied after each task t ≥ 1 (method.md §6).
    public var retention: RetentionKind = .topk
    /// topk: fraction of entries (per tensor) that keep their new value. [?] no source: sweep
    /// {0.1, 0.2, 0.3, 0.5, 0.7}; 0.3 is the middle of that range, chosen without evidence on real CLIP features.
    public var rho: Double = 0.3
    /// soft / soft-svd: mask bias b (RAPF `mix_bias`; 0.6 is RAPF's CIFAR-100 value).
    public var bias: Double = 0.6
    /// Linear-adapter initialisation: identity (starts at zero-shot) | default (PyTorch nn.Linear,
    /// RAPF's choice). method.md §3 says run both; identity is the default here because it makes
    /// task 0 start from the Continual-CLIP predictions.
    public var `init`: AdapterInit = .identity
    /// Linear adapter: L2-normalise the input embedding before W as well (method.md §3 flag).
    public var normalizeInput: Bool = false
    /// auto | seen (softmax over all seen classes) | current (this task's classes). `auto` is `seen` with replay and
    /// `current` without: a softmax over old classes with no old data teaches an adapter to reject them (method.md §2,
    /// measured: linear + topk with `seen` and no replay ended at Last 21.0 on stand-in Fashion-MNIST features).
    public var lossClasses: LossClasses = .auto
    /// none | gaussian: replay Gaussian pseudo-features of old classes (RAPF); see `rapf`.
    public var replay: ReplayKind = .none
    /// Scenario split: task 0 holds `initial` classes (0 ⇒ `increment`, i.e. B0), later tasks `increment`.
    public var initial: Int = 0
    public var increment: Int = 10
    public var epochs: Int = 15
    public var lr: Float = 1e-3
    public var batchSize: Int = 100
    /// Evaluation batch (memory only; results do not depend on it).
    public var evalBatchSize: Int = 512
    /// adam | adamw | sgd; a new optimiser is created for every task (RAPF).
    public var optimizer: OptimizerKind = .adam
    public var weightDecay: Float = 0
    /// SGD momentum (ignored by Adam/AdamW).
    public var momentum: Float = 0.9
    /// multistep (per epoch, like torch MultiStepLR) | cosine (per step, with warm-up) | constant.
    public var schedule: ScheduleKind = .multistep
    public var milestones: [Int] = [4, 10]
    public var gamma: Float = 0.1
    /// cosine: linear warm-up length in epochs (converted to steps).
    public var warmupEpochs: Int = 0
    /// cosine: final learning-rate factor.
    public var minLRFactor: Float = 0
    /// One run per seed (PyCIL style list). RAPF uses seed 2.
    public var seeds: [Int] = [2]
    public var attention = AttentionOptions()
    public var prompt = PromptOptions()
    public var fecam = FeCAMOptions()
    public var ranpac = RanPACOptions()
    public var rapf = RAPFOptions()

    public init() {}

    /// RAPF (Huang et al., ECCV 2024) as its code does it (linlany/RAPF `main.py`, `continual_clip/models.py`, 81d41df):
    /// Gaussian replay (`replay = gaussian`) and the hard-pair hinge. Defaults: its CIFAR-100 10-10 config.
    public struct RAPFOptions: Codable, Sendable, Equatable {
        /// Replay ⌊10β⌋ samples per replayed class per batch; ⌊20β⌋ per hard pair for the hinge.
        public var beta: Double = 2
        /// Hard pairs: a new and an old class whose L2-normalised text embeddings are closer than this (Euclidean).
        public var threshold: Double = 0.55
        /// Sample from cov + mean(diag)·I + mean(off-diag)·(1 − I) (RAPF's `shrink_cov`; ImageNet-R, CUB).
        public var shrinkage: Bool = false
        /// Old classes replayed per batch, taken in turn from a list shuffled every epoch (RAPF: 2; 4 for CIFAR-100
        /// B50 Inc5, 5 for ImageNet-R, 10 for CUB).
        public var classesPerBatch: Int = 2
        /// The hinge on hard pairs (margin 0.1, as hard-coded in RAPF).
        public var hinge: Bool = true
        public init() {}
    }

    /// FeCAM (Goswami et al. 2023), as its official frozen-ViT scripts: covariance shrinkage
    /// S + alpha1·mean(diag S)·I + alpha2·mean(off-diag S)·(1 − I). CIFAR-100: 1, 0; ImageNet-R: 10, 10.
    public struct FeCAMOptions: Codable, Sendable, Equatable {
        public var alpha1: Double = 1
        public var alpha2: Double = 0
        public init() {}
    }

    /// RanPAC (McDonnell et al. 2023) without its optional first-session adaptation: a fixed random projection to
    /// `dim` features with ReLU, and ridge regression on the accumulated Gram matrix.
    public struct RanPACOptions: Codable, Sendable, Equatable {
        /// M, the projection's width (the official code: 10,000).
        public var dim: Int = 10_000
        /// The ridge λ: `auto` picks it each task as RanPAC does (10^-8 … 10^8, least squared error on a 20 % split of
        /// the task's data), or a fixed value.
        public var lambda: RidgeLambda = .auto
        public init() {}
    }

    /// Self-attention adapter options (method.md §4).
    public struct AttentionOptions: Codable, Sendable, Equatable {
        /// chunks (default: the D-dim embedding as T tokens of D/T dims) | crossmodal (method.md R3:
        /// the image embedding attends over itself and the seen classes' text embeddings).
        public var reading: AttentionReading = .chunks
        /// chunks: number of tokens T (D must be divisible by T).
        public var tokens: Int = 8
        /// Attention heads (token width must be divisible by it).
        public var heads: Int = 4
        /// MLP hidden width = mlpRatio × token width.
        public var mlpRatio: Int = 4
        public init() {}
    }

    /// Prompt-tuning options (method.md §5, CoOp style).
    public struct PromptOptions: Codable, Sendable, Equatable {
        /// Number of learned context vectors M (random init; phrase init uses the phrase's length).
        public var length: Int = 16
        /// random (N(0, std²)) | phrase (token embeddings of `phrase`).
        public var `init`: PromptInit = .random
        public var phrase: String = "a photo of a"
        public var std: Float = 0.02
        public init() {}
    }

    // MARK: - Resolution and validation

    /// The config actually run: baselines without parameter retention get `retention = none`
    /// (finetune is "linear without retention", joint trains once, zeroshot and ncm train nothing).
    /// and `rapf` is the linear adapter with RAPF's parts: default (nn.Linear) init, Gaussian replay, hinge (unless
    /// `rapf.hinge = false`) and soft-svd fusion. `loss-classes = auto` becomes `seen` with replay, else `current`.
    public func resolved() -> RunConfig {
        var c = self
        switch method {
        case .finetune, .joint, .zeroshot, .ncm, .simplecil, .fecam, .ranpac: c.retention = .none
        case .rapf:
            c.`init` = .default
            c.replay = .gaussian
            c.retention = .softSVD
        case .linear, .attention, .prompt: break
        }
        if !c.method.usesReplay { c.replay = .none }
        if c.lossClasses == .auto { c.lossClasses = c.replay == .none ? .current : .seen }
        return c
    }

    /// Range checks; the error names the key.
    public func validate() throws(ContinualError) {
        func check(_ ok: Bool, _ key: String, _ reason: String) throws(ContinualError) {
            if !ok { throw .invalidConfig(key: key, reason: reason) }
        }
        try check(rho >= 0 && rho <= 1, "rho", "must be in [0, 1], got \(rho)")
        try check(bias.isFinite && bias >= 0, "bias", "must be finite and ≥ 0, got \(bias)")
        try check(initial >= 0, "initial", "must be ≥ 0, got \(initial)")
        try check(increment >= 1, "increment", "must be ≥ 1, got \(increment)")
        try check(epochs >= 1, "epochs", "must be ≥ 1, got \(epochs)")
        try check(lr.isFinite && lr >= 0, "lr", "must be finite and ≥ 0, got \(lr)")
        try check(batchSize >= 1, "batchSize", "must be ≥ 1, got \(batchSize)")
        try check(evalBatchSize >= 1, "evalBatchSize", "must be ≥ 1, got \(evalBatchSize)")
        try check(weightDecay.isFinite && weightDecay >= 0, "weightDecay", "must be finite and ≥ 0, got \(weightDecay)")
        try check(momentum.isFinite && momentum >= 0, "momentum", "must be finite and ≥ 0, got \(momentum)")
        try check(milestones.allSatisfy { $0 >= 0 }, "milestones", "must be ≥ 0, got \(milestones)")
        try check(gamma.isFinite && gamma > 0, "gamma", "must be finite and > 0, got \(gamma)")
        try check(warmupEpochs >= 0 && warmupEpochs <= epochs, "warmupEpochs", "must be in 0...epochs, got \(warmupEpochs)")
        try check(minLRFactor.isFinite && minLRFactor >= 0 && minLRFactor <= 1, "minLRFactor", "must be in [0, 1], got \(minLRFactor)")
        try check(!seeds.isEmpty && seeds.allSatisfy { $0 >= 0 }, "seeds", "needs at least one seed, all ≥ 0, got \(seeds)")
        try check(attention.tokens >= 1, "attention.tokens", "must be ≥ 1, got \(attention.tokens)")
        try check(attention.heads >= 1, "attention.heads", "must be ≥ 1, got \(attention.heads)")
        try check(attention.mlpRatio >= 1, "attention.mlpRatio", "must be ≥ 1, got \(attention.mlpRatio)")
        try check(prompt.length >= 1, "prompt.length", "must be ≥ 1, got \(prompt.length)")
        try check(prompt.std.isFinite && prompt.std >= 0, "prompt.std", "must be finite and ≥ 0, got \(prompt.std)")
        try check(!prompt.phrase.isEmpty || prompt.`init` != .phrase, "prompt.phrase", "must not be empty with prompt.init = phrase")
        try check(fecam.alpha1.isFinite && fecam.alpha1 >= 0, "fecam.alpha1", "must be finite and ≥ 0, got \(fecam.alpha1)")
        try check(fecam.alpha2.isFinite && fecam.alpha2 >= 0, "fecam.alpha2", "must be finite and ≥ 0, got \(fecam.alpha2)")
        try check(ranpac.dim >= 1 && ranpac.dim <= 65_536, "ranpac.dim", "must be in 1...65536, got \(ranpac.dim)")
        try check(rapf.beta.isFinite && rapf.beta >= 0, "rapf.beta", "must be finite and ≥ 0, got \(rapf.beta)")
        try check(rapf.threshold.isFinite && rapf.threshold >= 0, "rapf.threshold", "must be finite and ≥ 0, got \(rapf.threshold)")
        try check(rapf.classesPerBatch >= 1, "rapf.classes-per-batch", "must be ≥ 1, got \(rapf.classesPerBatch)")
        try check(replay == .none || resolved().lossClasses == .seen, "loss-classes",
                  "replayed old classes need the softmax over all seen classes (seen or auto), got current")
        if case let .value(l) = ranpac.lambda {
            try check(l.isFinite && l > 0, "ranpac.lambda", "must be auto or a finite value > 0, got \(l)")
        }
    }

    /// The training learning-rate schedule for a task of `stepsPerEpoch` steps per epoch.
    /// multistep is stepped per epoch, cosine per optimiser step (see `LRSchedule`).
    func learningRateFactor(epoch: Int, stepInTask: Int, stepsPerEpoch: Int) -> Float {
        switch schedule {
        case .constant:
            return 1
        case .multistep:
            return LRSchedule.multiStep(milestones: milestones, gamma: gamma).factor(atStep: epoch)
        case .cosine:
            return LRSchedule.cosine(warmupSteps: warmupEpochs * stepsPerEpoch, totalSteps: epochs * stepsPerEpoch,
                                     minFactor: minLRFactor).factor(atStep: stepInTask)
        }
    }
}

// MARK: - Enumerated options

public enum MethodKind: String, Codable, Sendable, CaseIterable {
    case zeroshot, linear, attention, prompt, finetune, joint, ncm, simplecil, fecam, ranpac, rapf

    /// Methods that can replay pseudo-features: the linear adapter (and its RAPF form).
    public var usesReplay: Bool { self == .linear || self == .rapf }
}

public enum ReplayKind: String, Codable, Sendable, CaseIterable {
    case none, gaussian
}

/// RanPAC's ridge λ: chosen per task from the data (`auto`), or fixed.
public enum RidgeLambda: Codable, Sendable, Equatable {
    case auto
    case value(Double)

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self), let v = RidgeLambda(text: s) { self = v; return }
        let v = try c.decode(Double.self)
        self = .value(v)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .auto: try c.encode("auto")
        case let .value(v): try c.encode(v)
        }
    }

    init?(text: String) {
        if text == "auto" { self = .auto } else if let v = Double(text) { self = .value(v) } else { return nil }
    }
}

public enum RetentionKind: String, Codable, Sendable, CaseIterable {
    case none, topk, soft
    case softSVD = "soft-svd"
}

public enum AdapterInit: String, Codable, Sendable, CaseIterable {
    case identity
    case `default`
}

public enum LossClasses: String, Codable, Sendable, CaseIterable {
    case auto, seen, current
}

public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
    case adam, adamw, sgd
}

public enum ScheduleKind: String, Codable, Sendable, CaseIterable {
    case multistep, cosine, constant
}

public enum AttentionReading: String, Codable, Sendable, CaseIterable {
    case chunks, crossmodal
}

public enum PromptInit: String, Codable, Sendable, CaseIterable {
    case random, phrase
}
