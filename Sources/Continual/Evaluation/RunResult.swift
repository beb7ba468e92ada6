import Datasets

/// The outcome of one run (one method, one seed, one scenario), written after every task.
///
/// A partial result (after task k < T−1, `complete == false`) is also the resume state: together
/// with the method's saved parameters it lets `ContinualRunner.run(resume:)` continue from task
/// k + 1 exactly as if the run had not stopped (`rngState` is the training generator after task k).
/// All accuracies are percentages; see `Metrics` for the definitions.
public struct RunResult: Codable, Sendable, Equatable {
    /// `incremental`: one record per task. `joint`: the joint upper bound, trained once on all
    /// classes and evaluated once — a single record (task T−1) whose accuracy row has one entry per
    /// scenario task; avg = last = that accuracy; forgetting and BWT are nil.
    public var mode: RunMode
    /// The method's description string (its options, e.g. the attention reading).
    public var method: String
    /// The resolved config the run used.
    public var config: RunConfig
    public var seed: UInt64
    public var scenario: Scenario
    public var records: [TaskRecord]
    /// Row t = a[t][0...t] (incremental) or the single joint row.
    public var accuracyMatrix: [[Double]]
    /// Mean of A_t over the tasks so far.
    public var avg: Double
    /// A_t of the latest task.
    public var last: Double
    /// Chaudhry forgetting (nil with fewer than 2 tasks, and for joint).
    public var forgetting: Double?
    /// GEM backward transfer, final-row definition (nil with fewer than 2 tasks, and for joint).
    public var bwt: Double?
    /// Avg and Last with the task-mean A_t (Mammoth), and BWT as continuum computes it (see `Metrics`).
    /// Optional so that result files written before they existed still decode; recomputed on every append.
    public var avgTaskMean: Double?
    public var lastTaskMean: Double?
    public var bwtContinuum: Double?
    public var timings: TaskTimings
    /// Training generator state after the latest task.
    public var rngState: [UInt64]
    /// true once every task has run.
    public var complete: Bool

    public init(mode: RunMode, method: String, config: RunConfig, seed: UInt64, scenario: Scenario,
                rngState: [UInt64]) {
        self.mode = mode
        self.method = method
        self.config = config
        self.seed = seed
        self.scenario = scenario
        self.records = []
        self.accuracyMatrix = []
        self.avg = 0
        self.last = 0
        self.forgetting = nil
        self.bwt = nil
        self.timings = TaskTimings()
        self.rngState = rngState
        self.complete = false
    }

    /// Appends a task record and recomputes the summary metrics.
    public mutating func append(_ record: TaskRecord) {
        records.append(record)
        accuracyMatrix = records.map(\.accuracies)
        avg = Metrics.averageIncrementalAccuracy(records.map(\.accuracy))
        last = record.accuracy
        avgTaskMean = Metrics.averageIncrementalAccuracy(accuracyMatrix.map(Metrics.taskMeanAccuracy))
        lastTaskMean = Metrics.taskMeanAccuracy(record.accuracies)
        if mode == .incremental {
            forgetting = Metrics.forgetting(accuracyMatrix)
            bwt = Metrics.backwardTransfer(accuracyMatrix)
            bwtContinuum = Metrics.backwardTransferContinuum(accuracyMatrix)
        }
        timings = TaskTimings(train: records.map(\.seconds.train).reduce(0, +),
                              retention: records.map(\.seconds.retention).reduce(0, +),
                              evaluation: records.map(\.seconds.evaluation).reduce(0, +))
    }
}

public enum RunMode: String, Codable, Sendable {
    case incremental, joint
}

/// What happened at one task.
public struct TaskRecord: Codable, Sendable, Equatable {
    public var task: Int
    /// Classes introduced by the task (original label ids, class order); all classes for joint.
    public var classes: [Int]
    /// A_t: sample-weighted accuracy over all seen classes.
    public var accuracy: Double
    /// a[t][k] for k = 0...t (one entry per scenario task for joint).
    public var accuracies: [Double]
    /// Correct predictions and test samples per task k (the counts behind `accuracies`).
    public var correct: [Int]
    public var totals: [Int]
    /// Accuracy on the classes of tasks < t (nil at task 0).
    public var old: Double?
    /// Accuracy on task t's classes.
    public var new: Double
    /// Mean training loss of the last epoch (nil when the method does not train).
    public var trainLoss: Float?
    /// Mean training loss of every epoch.
    public var epochLosses: [Float]
    public var seconds: TaskTimings

    public init(task: Int, classes: [Int], correct: [Int], totals: [Int], epochLosses: [Float], seconds: TaskTimings) {
        self.task = task
        self.classes = classes
        self.correct = correct
        self.totals = totals
        self.accuracy = Metrics.sampleWeightedAccuracy(correct: correct, totals: totals)
        self.accuracies = zip(correct, totals).map { Metrics.accuracy(correct: $0, total: $1) }
        let split = Metrics.oldNew(correct: correct, totals: totals, task: min(task, correct.count - 1))
        self.old = split.old
        self.new = split.new
        self.trainLoss = epochLosses.last
        self.epochLosses = epochLosses
        self.seconds = seconds
    }
}

/// Wall-clock seconds (not part of any determinism guarantee).
public struct TaskTimings: Codable, Sendable, Equatable {
    public var train: Double = 0
    public var retention: Double = 0
    public var evaluation: Double = 0

    public init(train: Double = 0, retention: Double = 0, evaluation: Double = 0) {
        self.train = train
        self.retention = retention
        self.evaluation = evaluation
    }

    public var total: Double { train + retention + evaluation }
}
