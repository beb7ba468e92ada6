import Datasets
import TensorKit

/// One continual-learning method on cached CLIP embeddings (both encoders frozen).
///
/// The runner calls, for every task t: `beginTask` (snapshot θ_old, reset per-task state),
/// `train` (task t's training data only), `endTask` (post-task step: parameter retention for
/// t ≥ 1), then `logits` on the test data of all seen classes. `parameters` are saved after each
/// task; `load` restores them for a resumed run.
public protocol ContinualMethod {
    /// One line naming the method and its options (stored in result files).
    var description: String { get }

    mutating func beginTask(_ t: Int, context: TaskContext) throws
    mutating func train(task: Int, data: TaskData, context: TaskContext, rng: inout RandomGenerator,
                        log: (TrainingEvent) -> Void) throws
    mutating func endTask(_ t: Int, context: TaskContext) throws
    /// Logits [N, |seen|], column j for `seenClasses[j]` (original label ids).
    func logits(features: Tensor, seenClasses: [Int], context: TaskContext) throws -> Tensor
    /// Trainable state to save after each task (adapter weights, prompts, class means).
    var parameters: [String: Tensor] { get }
    mutating func load(parameters: [String: Tensor]) throws
    /// Whether a run directory keeps the parameters of every task (true), or only the latest task's, for methods
    /// whose state is too large to keep one copy per task (FeCAM's covariances, RanPAC's Gram matrix).
    var savesEveryTask: Bool { get }
}

extension ContinualMethod {
    public var savesEveryTask: Bool { true }
}

/// What a method may know about the current task. Label ids are original dataset ids.
public struct TaskContext: Sendable {
    public var task: Int
    /// Classes introduced by this task, in class order.
    public var taskClasses: [Int]
    /// Classes of tasks 0...task, in class order.
    public var seenClasses: [Int]
    /// Classes the training softmax runs over (`seen` or `current`, see `LossClasses`).
    public var lossClasses: [Int]
    /// [C, D] L2-normalised class-text embeddings by original label id.
    public var textFeatures: Tensor
    public var classNames: [String]
    public var logitScale: Float

    public init(task: Int, taskClasses: [Int], seenClasses: [Int], lossClasses: [Int],
                textFeatures: Tensor, classNames: [String], logitScale: Float) {
        self.task = task
        self.taskClasses = taskClasses
        self.seenClasses = seenClasses
        self.lossClasses = lossClasses
        self.textFeatures = textFeatures
        self.classNames = classNames
        self.logitScale = logitScale
    }

    /// Text embeddings [classes.count, D] of `classes`, in that order.
    public func textFeatures(for classes: [Int]) throws -> Tensor {
        try textFeatures.gather(rows: classes, indexShape: [classes.count])
    }
}

/// Training data of one task: features [n, D] and original label ids.
public struct TaskData: Sendable {
    public var features: Tensor
    public var labels: [Int]

    public init(features: Tensor, labels: [Int]) {
        self.features = features
        self.labels = labels
    }

    public var count: Int { labels.count }
}

/// Progress reports from training (for progress bars and logs; results never depend on them).
public enum TrainingEvent: Sendable, Equatable {
    /// After one optimiser step; `step` counts from 0 within the epoch.
    case step(task: Int, epoch: Int, step: Int, loss: Float, learningRate: Float)
    /// After one epoch: the sample-weighted mean training loss of the epoch.
    case epochEnd(task: Int, epoch: Int, meanLoss: Float, seconds: Double)
}
