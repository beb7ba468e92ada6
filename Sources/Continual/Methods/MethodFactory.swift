import TensorKit

/// Builds the method named by `config.method`.
public enum MethodFactory {
    /// The random stream used for initialisation, separate from the training stream (which starts
    /// at `RandomGenerator(seed: seed)`), so resuming a run never depends on how the method was built.
    public static func initializationGenerator(seed: UInt64) -> RandomGenerator {
        RandomGenerator(seed: seed).fork(stream: 0x1A17)
    }

    /// - Parameters:
    ///   - dimension: embedding width D of the feature set.
    ///   - classCount: number of classes of the dataset (NCM's table).
    ///   - textEncoder: the frozen text tower; required by `prompt` only.
    public static func make(config: RunConfig, dimension: Int, classCount: Int, seed: UInt64,
                            textEncoder: (any PromptTextEncoder)? = nil) throws -> any ContinualMethod {
        let config = config.resolved()
        try config.validate()
        var rng = initializationGenerator(seed: seed)
        switch config.method {
        case .zeroshot:
            return ZeroShot()
        case .linear, .finetune, .joint, .rapf:
            return LinearAdapter(dimension: dimension, classCount: classCount, config: config, rng: &rng)
        case .attention:
            return try AttentionAdapter(dimension: dimension, config: config, rng: &rng)
        case .prompt:
            guard let textEncoder else {
                throw ContinualError.missingDependency("method prompt needs the frozen text encoder (PromptTextEncoder)")
            }
            return try PromptTuning(encoder: textEncoder, config: config, rng: &rng)
        case .ncm:
            return NearestClassMean(dimension: dimension, classCount: classCount)
        case .simplecil:
            return NearestClassMean(dimension: dimension, classCount: classCount, normalizeSamples: false)
        case .fecam:
            return FeCAM(dimension: dimension, classCount: classCount, alpha1: config.fecam.alpha1, alpha2: config.fecam.alpha2)
        case .ranpac:
            return RanPAC(dimension: dimension, classCount: classCount, options: config.ranpac, rng: &rng)
        }
    }
}
