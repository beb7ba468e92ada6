import CLIP
import Foundation

/// What a continual classifier knows after some tasks (`DIR/state-N/learner.json`); the method's parameters and the
/// class-text embeddings sit beside it in safetensors files. No images and no image features of old tasks are kept
/// (unless `--keep-features`), only what the method itself keeps: weights and per-class statistics.
public struct LearnerState: Codable, Sendable, Equatable {
    public static let formatName = "clipcl-learner"
    /// Bumped when a reader of this version could not use the files correctly.
    public static let currentVersion = 1

    public var format: String = LearnerState.formatName
    public var version: Int = LearnerState.currentVersion
    /// The state number N (`state-N`) and the one it was learnt from (nil for the first).
    public var number: Int
    public var parent: Int?
    public var model: LearnerModel
    /// The resolved method config (its `seeds[0]` is the learner's seed).
    public var config: RunConfig
    /// Class names in the order learnt: class i is column i of every prediction.
    public var classNames: [String]
    public var tasks: [LearnerTask]
    /// Training generator state after the last task (continued by the next `learn`, as the runner does per task).
    public var rngState: [UInt64]
    /// Whether the training features of every task are kept (`features.safetensors`).
    public var keepsFeatures: Bool

    public var seed: UInt64 { UInt64(config.seeds.first ?? 0) }
}

/// The CLIP checkpoint a learner is bound to: its features are only meaningful with this model and preprocessing.
public struct LearnerModel: Codable, Sendable, Equatable {
    public var id: String
    public var checkpointSHA256: String
    public var checkpointRevision: String?
    public var preprocessing: PreprocessConfig
    public var embedDim: Int
    /// exp(logit_scale) of the model.
    public var logitScale: Float
    public var templates: [String]

    public init(id: String, checkpointSHA256: String, checkpointRevision: String?, preprocessing: PreprocessConfig,
                embedDim: Int, logitScale: Float, templates: [String]) {
        self.id = id
        self.checkpointSHA256 = checkpointSHA256
        self.checkpointRevision = checkpointRevision
        self.preprocessing = preprocessing
        self.embedDim = embedDim
        self.logitScale = logitScale
        self.templates = templates
    }
}

/// One `learn` call: where its images came from and how the classifier did on the part held out from training.
public struct LearnerTask: Codable, Sendable, Equatable {
    public var folder: String
    public var classes: [String]
    public var trainImages: Int
    public var heldOutImages: Int
    /// Accuracy (%) on this task's held-out images, predicting among all classes learnt so far; nil without hold-out.
    public var heldOutAccuracy: Double?
    /// ISO 8601, UTC.
    public var date: String
    public var trainSeconds: Double
}
