import Foundation
import TensorKit

/// A continual classifier over frozen CLIP image embeddings: each `learn` adds a task of new classes with
/// `TaskStep`, the step `ContinualRunner` loops over, so five `learn` calls give the numbers of a five-task run on
/// the same features. Class i of a learner is the i-th class learnt; its text embedding is row i of `text`.
public enum Learner {
    /// The images of one new task, already encoded.
    public struct NewTask {
        public var folder: String
        public var classNames: [String]
        /// [n, D] image embeddings and their class index 0..<classNames.count, in the folder's order.
        public var features: Tensor
        public var labels: [Int]
        /// [classNames.count, D] class-text embeddings.
        public var text: Tensor

        public init(folder: String, classNames: [String], features: Tensor, labels: [Int], text: Tensor) {
            self.folder = folder
            self.classNames = classNames
            self.features = features
            self.labels = labels
            self.text = text
        }
    }

    /// Learns `task` on top of `previous` (nil: the first task, with `config` and `model`), holding out
    /// `holdout` of each class's images to measure the task. Returns the next state (numbered `number`).
    public static func learn(
        _ task: NewTask, previous: LoadedLearner?, config: RunConfig, model: LearnerModel, number: Int,
        holdout: Double, keepFeatures: Bool, textEncoder: (any PromptTextEncoder)? = nil,
        log: (TrainingEvent) -> Void = { _ in }
    ) throws -> LoadedLearner {
        let config = (previous?.state.config ?? config).resolved()
        try config.validate()
        guard config.method != .joint else {
            throw ContinualError.learner("method joint trains once on every class; a learner learns task by task (use linear, rapf, ncm, …)")
        }
        guard holdout >= 0 && holdout < 1 else { throw ContinualError.learner("--holdout must be in [0, 1), got \(holdout)") }
        let old = previous?.state.classNames ?? []
        let k = old.count, added = task.classNames.count, d = model.embedDim
        try check(task, old: old, config: config, embedDim: d)

        // Held-out rows: per class, a seeded choice that never touches the training generator.
        var pick = RandomGenerator(seed: UInt64(config.seeds.first ?? 0)).fork(stream: 0x401D_0000 &+ UInt64(previous?.state.tasks.count ?? 0))
        var byClass = [[Int]](repeating: [], count: added)
        for (row, label) in task.labels.enumerated() { byClass[label].append(row) }
        var heldOut = Set<Int>()
        for rows in byClass where rows.count >= 2 {
            let count = min(rows.count - 1, Int((holdout * Double(rows.count)).rounded(.up)))
            for i in pick.permutation(rows.count).prefix(count) { heldOut.insert(rows[i]) }
        }
        let trainRows = task.labels.indices.filter { !heldOut.contains($0) }
        let testRows = task.labels.indices.filter { heldOut.contains($0) }
        let data = TaskData(features: try task.features.gather(rows: trainRows, indexShape: [trainRows.count]),
                            labels: trainRows.map { k + task.labels[$0] })

        let names = old + task.classNames
        let text = try Tensor.concatenate([previous?.text ?? Tensor(unchecked: [0, d], storage: []), task.text], axis: 0)
        var method = try MethodFactory.make(config: config, dimension: d, classCount: names.count,
                                            seed: UInt64(config.seeds.first ?? 0), textEncoder: textEncoder)
        if let previous {
            try method.load(parameters: try grow(previous.parameters, like: method.parameters, classes: k, to: names.count))
        }
        var rng = try previous.map { try RandomGenerator(state: $0.state.rngState) } ?? RandomGenerator(seed: UInt64(config.seeds.first ?? 0))
        let t = previous?.state.tasks.count ?? 0
        let seen = Array(0..<names.count), current = Array(k..<names.count)
        let context = TaskContext(task: t, taskClasses: current, seenClasses: seen,
                                  lossClasses: config.lossClasses == .seen ? seen : current, textFeatures: text,
                                  classNames: names, logitScale: model.logitScale)
        let step = TaskStep(task: t, context: context, data: data)
        let testLabels = testRows.map { k + task.labels[$0] }
        let record = try step.perform(
            &method, rng: &rng,
            evaluator: Evaluator(testRows: ContinualRunner.rowsByClass(testLabels, classCount: names.count), batchSize: config.evalBatchSize),
            testFeatures: try task.features.gather(rows: testRows, indexShape: [testRows.count]), evaluated: [current], log: log)

        var features: TaskData? = nil
        if keepFeatures {
            let before = previous?.features ?? TaskData(features: Tensor(unchecked: [0, d], storage: []), labels: [])
            features = TaskData(features: try Tensor.concatenate([before.features, data.features], axis: 0),
                                labels: before.labels + data.labels)
        }
        let entry = LearnerTask(folder: task.folder, classes: task.classNames, trainImages: trainRows.count,
                                heldOutImages: testRows.count, heldOutAccuracy: testRows.isEmpty ? nil : record.accuracy,
                                date: ISO8601DateFormatter().string(from: Date()), trainSeconds: record.seconds.train)
        let state = LearnerState(number: number, parent: previous?.state.number, model: model, config: config, classNames: names,
                                 tasks: (previous?.state.tasks ?? []) + [entry], rngState: rng.state,
                                 keepsFeatures: keepFeatures || (previous?.state.keepsFeatures ?? false))
        if state.keepsFeatures && features == nil {
            throw ContinualError.learner("this state keeps its features: pass --keep-features again")
        }
        return LoadedLearner(state: state, parameters: method.parameters, text: text, features: features)
    }

    /// Refuses a task that cannot be learnt, before anything is trained or written.
    static func check(_ task: NewTask, old: [String], config: RunConfig, embedDim d: Int) throws {
        let added = task.classNames.count
        guard added >= 1, task.features.rank == 2, task.features.shape == [task.labels.count, d],
              task.text.shape == [added, d], task.labels.allSatisfy({ $0 >= 0 && $0 < added }) else {
            throw ContinualError.learner("\(task.folder): features \(task.features.shape) or text \(task.text.shape) do not fit \(added) classes of width \(d)")
        }
        try checkClasses(task.classNames, in: task.folder, old: old, config: config)
        let counts = task.labels.reduce(into: [Int](repeating: 0, count: added)) { $0[$1] += 1 }
        if let empty = counts.firstIndex(of: 0) {
            throw ContinualError.learner("\(task.folder)/\(task.classNames[empty]): no images")
        }
    }

    /// The class-level refusals, which need no images (`clipcl learn` runs them before loading the model).
    public static func checkClasses(_ names: [String], in folder: String, old: [String], config: RunConfig) throws {
        let config = config.resolved()
        let known = Set(old)
        if let clash = names.first(where: known.contains) {
            throw ContinualError.learner("\(folder): class '\(clash)' is already learnt; a task brings new classes only (rename the folder if it is another class)")
        }
        // One class: nothing to tell apart in the first task, nor for a softmax over the task's own classes.
        let trainsOnTaskClassesOnly = config.lossClasses == .current && [.linear, .finetune, .attention, .prompt].contains(config.method)
        if names.count == 1 && (old.isEmpty || trainsOnTaskClassesOnly) {
            throw ContinualError.learner("\(folder): has one class ('\(names[0])'); "
                + (old.isEmpty ? "the first task needs at least two" : "\(config.method.rawValue) without replay trains a softmax over the task's own classes and needs at least two (or use --replay gaussian, ncm, fecam, ranpac)"))
        }
    }

    /// The saved parameters, each widened to the fresh method's shape where that differs only in the class axis
    /// (per-class statistics, RanPAC's targets): the new classes' entries are the fresh method's, i.e. "not seen yet".
    static func grow(_ saved: [String: Tensor], like fresh: [String: Tensor], classes k: Int, to k2: Int) throws -> [String: Tensor] {
        if let extra = Set(saved.keys).subtracting(fresh.keys).sorted().first {
            throw ContinualError.invalidParameters(name: extra, reason: "not a parameter of this method")
        }
        var out: [String: Tensor] = [:]
        for (name, f) in fresh {
            guard let s = saved[name] else { throw ContinualError.invalidParameters(name: name, reason: "missing from the state") }
            if s.shape == f.shape { out[name] = s; continue }
            let differing = s.shape.indices.filter { s.rank == f.rank && s.shape[$0] != f.shape[$0] }
            guard s.rank == f.rank, differing.count == 1, let a = differing.first, s.shape[a] == k, f.shape[a] == k2 else {
                throw ContinualError.invalidParameters(name: name, reason: "shape \(s.shape) in the state does not grow to \(f.shape)")
            }
            let outer = s.shape[..<a].reduce(1, *), inner = s.shape[(a + 1)...].reduce(1, *)
            var storage = f.storage
            for o in 0..<outer {
                for c in 0..<k {
                    let src = (o * k + c) * inner, dst = (o * k2 + c) * inner
                    for i in 0..<inner { storage[dst + i] = s.storage[src + i] }
                }
            }
            out[name] = Tensor(unchecked: f.shape, storage: storage)
        }
        return out
    }
}

/// A learner ready to classify image embeddings (`clipcl predict`).
public struct LearnerClassifier {
    public let learner: LoadedLearner
    let method: any ContinualMethod
    let context: TaskContext

    public init(_ learner: LoadedLearner, textEncoder: (any PromptTextEncoder)? = nil) throws {
        let s = learner.state
        var method = try MethodFactory.make(config: s.config, dimension: s.model.embedDim, classCount: s.classNames.count,
                                            seed: s.seed, textEncoder: textEncoder)
        try method.load(parameters: learner.parameters)
        let all = Array(s.classNames.indices)
        self.learner = learner
        self.method = method
        context = TaskContext(task: max(0, s.tasks.count - 1), taskClasses: [], seenClasses: all, lossClasses: all,
                              textFeatures: learner.text, classNames: s.classNames, logitScale: s.model.logitScale)
    }

    /// [n, K] class probabilities: the softmax of the method's logits over every learnt class.
    public func probabilities(_ features: Tensor) throws -> Tensor {
        try logits(features).softmax()
    }

    /// [n, K] the method's logits, as the evaluation uses them.
    public func logits(_ features: Tensor) throws -> Tensor {
        try method.logits(features: features, seenClasses: context.seenClasses, context: context)
    }
}
