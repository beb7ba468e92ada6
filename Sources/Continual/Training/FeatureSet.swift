import TensorKit

/// Cached CLIP features of one dataset: the only data the continual methods read.
///
/// Decoupled from the on-disk feature cache: whoever loads the cache fills this struct.
public struct FeatureSet: Sendable {
    /// [N, D] un-normalised image embeddings (output of CLIP's visual projection).
    public var trainFeatures: Tensor
    /// Original dataset label ids of the training rows.
    public var trainLabels: [Int]
    /// [M, D] un-normalised test image embeddings.
    public var testFeatures: Tensor
    public var testLabels: [Int]
    /// Class names by original label id.
    public var classNames: [String]
    /// [C, D] class-text embeddings by original label id (template-averaged, L2-normalised).
    public var textFeatures: Tensor
    /// exp(logit_scale), ≈ 100 for the OpenAI weights.
    public var logitScale: Float

    public init(trainFeatures: Tensor, trainLabels: [Int], testFeatures: Tensor, testLabels: [Int],
                classNames: [String], textFeatures: Tensor, logitScale: Float) {
        self.trainFeatures = trainFeatures
        self.trainLabels = trainLabels
        self.testFeatures = testFeatures
        self.testLabels = testLabels
        self.classNames = classNames
        self.textFeatures = textFeatures
        self.logitScale = logitScale
    }

    /// Embedding width D.
    public var dimension: Int { textFeatures.shape.count == 2 ? textFeatures.shape[1] : 0 }
    public var classCount: Int { classNames.count }

    /// Checks shapes, label ranges and the scale.
    public func validate() throws(ContinualError) {
        let c = classNames.count
        guard c > 0 else { throw .invalidData("no class names") }
        guard textFeatures.rank == 2, textFeatures.shape[0] == c else {
            throw .invalidData("text features \(textFeatures.shape) must be [\(c), D] (one row per class name)")
        }
        let d = textFeatures.shape[1]
        for (name, x, labels) in [("train", trainFeatures, trainLabels), ("test", testFeatures, testLabels)] {
            guard x.rank == 2, x.shape[1] == d, x.shape[0] == labels.count else {
                throw .invalidData("\(name) features \(x.shape) must be [\(labels.count), \(d)] (one row per label)")
            }
            if let bad = labels.first(where: { $0 < 0 || $0 >= c }) {
                throw .invalidData("\(name) label \(bad) is outside 0..<\(c)")
            }
        }
        guard logitScale.isFinite, logitScale > 0 else { throw .invalidData("logit scale must be finite and > 0, got \(logitScale)") }
    }
}
