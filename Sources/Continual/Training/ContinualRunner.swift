import Datasets
import TensorKit

/// Runs a method through every task of a scenario on cached features (method.md §1):
/// task t trains on task t's classes only, then (after the method's post-task step, e.g.
/// parameter retention) the method is evaluated on the test samples of all classes seen so far,
/// predicting among all of them.
///
/// Randomness: the training generator starts at `RandomGenerator(seed: seed)` and is handed to
/// every task in turn (batch shuffling); its state after each task is stored in the result, so a
/// run resumed from a partial result and the method's saved parameters continues bit-identically.
/// Method initialisation uses a separate stream (`MethodFactory.initializationGenerator`).
public struct ContinualRunner {
    /// The resolved config.
    public let config: RunConfig
    public let scenario: Scenario
    public let features: FeatureSet
    let trainRows: [[Int]]
    let testRows: [[Int]]

    public init(config: RunConfig, scenario: Scenario, features: FeatureSet) throws {
        let config = config.resolved()
        try config.validate()
        try features.validate()
        let first = config.initial == 0 ? config.increment : config.initial
        guard scenario.initial == first, scenario.increment == config.increment else {
            throw ContinualError.invalidConfig(key: "initial", reason: "scenario \(scenario.name) differs from the config's initial \(config.initial) / increment \(config.increment)")
        }
        guard scenario.classCount == features.classCount else {
            throw ContinualError.invalidData("scenario has \(scenario.classCount) classes, features have \(features.classCount)")
        }
        self.config = config
        self.scenario = scenario
        self.features = features
        trainRows = Self.rowsByClass(features.trainLabels, classCount: features.classCount)
        testRows = Self.rowsByClass(features.testLabels, classCount: features.classCount)
    }

    /// Builds the scenario from the config's `initial` / `increment` and a class order.
    public init(config: RunConfig, classOrder: [Int], features: FeatureSet) throws {
        try self.init(config: config, scenario: try Scenario(classOrder: classOrder, initial: config.initial,
                                                             increment: config.increment), features: features)
    }

    /// The method named by the config, for this feature set (see `MethodFactory.make`).
    public func makeMethod(seed: UInt64, textEncoder: (any PromptTextEncoder)? = nil) throws -> any ContinualMethod {
        try MethodFactory.make(config: config, dimension: features.dimension, classCount: features.classCount,
                               seed: seed, textEncoder: textEncoder)
    }

    /// The seeds of `config.seeds` as generator seeds.
    public var seeds: [UInt64] { config.seeds.map { UInt64($0) } }

    /// A saved run to continue: the partial result and the method's parameters after its last task.
    public struct ResumePoint {
        public var result: RunResult
        public var parameters: [String: Tensor]
        public init(result: RunResult, parameters: [String: Tensor]) {
            self.result = result
            self.parameters = parameters
        }
    }

    /// Runs tasks (from the resume point, if any) up to `stopAfterTask` (default: the last task).
    ///
    /// - `afterTask(t, method, result)` is called after each task's evaluation, with the result so
    ///   far; save `method.parameters` and `result` there to be able to resume.
    /// - For `method = joint` the run is a single training on all classes (see `RunMode.joint`).
    public func run(
        method: inout any ContinualMethod, seed: UInt64, resume: ResumePoint? = nil, stopAfterTask: Int? = nil,
        log: (TrainingEvent) -> Void = { _ in },
        afterTask: (Int, any ContinualMethod, RunResult) throws -> Void = { _, _, _ in }
    ) throws -> RunResult {
        if config.method == .joint {
            guard resume == nil else { throw ContinualError.invalidResume("a joint run has a single step; rerun it") }
            return try runJoint(method: &method, seed: seed, log: log, afterTask: afterTask)
        }
        var result: RunResult
        var rng: RandomGenerator
        if let resume {
            result = resume.result
            try check(resume: result, seed: seed, method: method)
            rng = try RandomGenerator(state: result.rngState)
            try method.load(parameters: resume.parameters)
        } else {
            rng = RandomGenerator(seed: seed)
            result = RunResult(mode: .incremental, method: method.description, config: config, seed: seed,
                               scenario: scenario, rngState: rng.state)
        }
        let last = min(stopAfterTask ?? (scenario.taskCount - 1), scenario.taskCount - 1)
        var t = result.records.count
        while t <= last {
            let context = try makeContext(task: t)
            let step = TaskStep(task: t, context: context, data: try taskData(classes: context.taskClasses))
            result.append(try step.perform(&method, rng: &rng, evaluator: evaluator, testFeatures: features.testFeatures,
                                           evaluated: Array(scenario.tasks[0...t]), log: log))
            result.rngState = rng.state
            result.complete = t == scenario.taskCount - 1
            try afterTask(t, method, result)
            t += 1
        }
        return result
    }

    /// Joint upper bound: the method trained once on the training data of all classes (loss over
    /// all classes), without retention, evaluated once on every task's test classes. Reported as a
    /// single record for task T−1; errors during training name "task 0" (the only training step).
    func runJoint(method: inout any ContinualMethod, seed: UInt64, log: (TrainingEvent) -> Void,
                  afterTask: (Int, any ContinualMethod, RunResult) throws -> Void) throws -> RunResult {
        var rng = RandomGenerator(seed: seed)
        var result = RunResult(mode: .joint, method: method.description, config: config, seed: seed,
                               scenario: scenario, rngState: rng.state)
        let all = scenario.classOrder
        let lastTask = scenario.taskCount - 1
        let context = TaskContext(task: lastTask, taskClasses: all, seenClasses: all, lossClasses: all,
                                  textFeatures: features.textFeatures, classNames: features.classNames,
                                  logitScale: features.logitScale)
        let step = TaskStep(task: 0, context: context, data: try taskData(classes: all))
        result.append(try step.perform(&method, rng: &rng, evaluator: evaluator, testFeatures: features.testFeatures,
                                       evaluated: scenario.tasks, log: log))
        result.rngState = rng.state
        result.complete = true
        try afterTask(lastTask, method, result)
        return result
    }

    /// The context of task t (loss classes per `config.lossClasses`).
    public func makeContext(task t: Int) throws -> TaskContext {
        guard t >= 0 && t < scenario.taskCount else {
            throw ContinualError.invalidData("task \(t) outside 0..<\(scenario.taskCount)")
        }
        let seen = scenario.seenClasses(upTo: t)
        let current = scenario.tasks[t]
        return TaskContext(task: t, taskClasses: current, seenClasses: seen,
                           lossClasses: config.lossClasses == .seen ? seen : current,
                           textFeatures: features.textFeatures, classNames: features.classNames,
                           logitScale: features.logitScale)
    }

    /// Training rows of `classes` (ascending row order).
    public func taskData(classes: [Int]) throws -> TaskData {
        let rows = classes.flatMap { trainRows[$0] }.sorted()
        return TaskData(features: try features.trainFeatures.gather(rows: rows, indexShape: [rows.count]),
                        labels: rows.map { features.trainLabels[$0] })
    }

    var evaluator: Evaluator { Evaluator(testRows: testRows, batchSize: config.evalBatchSize) }

    private func check(resume result: RunResult, seed: UInt64, method: any ContinualMethod) throws {
        guard result.mode == .incremental else { throw ContinualError.invalidResume("the saved result is not incremental") }
        guard result.seed == seed else { throw ContinualError.invalidResume("saved seed \(result.seed) ≠ \(seed)") }
        guard result.config == config else { throw ContinualError.invalidResume("the saved config differs from this run's config") }
        guard result.scenario == scenario else { throw ContinualError.invalidResume("the saved scenario differs from this run's scenario") }
        guard result.method == method.description else {
            throw ContinualError.invalidResume("saved method \"\(result.method)\" ≠ \"\(method.description)\"")
        }
        guard !result.records.isEmpty, result.records.count < scenario.taskCount else {
            throw ContinualError.invalidResume("the saved result has \(result.records.count) of \(scenario.taskCount) tasks")
        }
        guard result.records.enumerated().allSatisfy({ $0.offset == $0.element.task }) else {
            throw ContinualError.invalidResume("the saved records are not tasks 0, 1, …")
        }
    }

    static func rowsByClass(_ labels: [Int], classCount: Int) -> [[Int]] {
        var rows = [[Int]](repeating: [], count: classCount)
        for (i, label) in labels.enumerated() { rows[label].append(i) }
        return rows
    }
}
