import TensorKit

/// One task of class-incremental learning: the method's task start, training on the task's data, its post-task step
/// (retention, statistics), then the evaluation on test samples of the given classes, predicting among all seen
/// classes. `clipcl run` performs it once per task of a scenario (`ContinualRunner`), `clipcl learn` once per call
/// (`Learner`): the same code, so both give the same numbers on the same features.
public struct TaskStep {
    /// The task index the method sees (0 for the joint bound's single step).
    public var task: Int
    public var context: TaskContext
    public var data: TaskData

    public init(task: Int, context: TaskContext, data: TaskData) {
        self.task = task
        self.context = context
        self.data = data
    }

    /// Trains and evaluates; `evaluated` lists the tasks (label lists) whose test rows `evaluator` counts.
    func perform(_ method: inout any ContinualMethod, rng: inout RandomGenerator, evaluator: Evaluator,
                 testFeatures: Tensor, evaluated: [[Int]], log: (TrainingEvent) -> Void) throws -> TaskRecord {
        var losses: [Float] = []
        let clock = ContinuousClock()
        let trainStart = clock.now
        try method.beginTask(task, context: context)
        try method.train(task: task, data: data, context: context, rng: &rng) { event in
            if case let .epochEnd(_, _, loss, _) = event { losses.append(loss) }
            log(event)
        }
        let retentionStart = clock.now
        try method.endTask(task, context: context)
        let evaluationStart = clock.now
        let (correct, totals) = try evaluator.evaluate(method, features: testFeatures, tasks: evaluated, context: context)
        let seconds = TaskTimings(train: secondsIn(retentionStart - trainStart),
                                  retention: secondsIn(evaluationStart - retentionStart),
                                  evaluation: secondsIn(clock.now - evaluationStart))
        return TaskRecord(task: context.task, classes: context.taskClasses, correct: correct, totals: totals,
                          epochLosses: losses, seconds: seconds)
    }
}
