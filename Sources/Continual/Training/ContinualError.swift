/// Errors of the continual-learning layer. Each names what it is about (a config key, a tensor,
/// a task / epoch / step), so the message alone tells where to look.
public enum ContinualError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A non-finite loss or parameter during training (`what` is "loss" or "parameter <name>").
    case nonFinite(what: String, task: Int, epoch: Int, step: Int)
    /// Any other failure inside a training step, with its position.
    case trainingFailed(task: Int, epoch: Int, step: Int, reason: String)
    /// A bad `--set key=value` override or config value.
    case invalidConfig(key: String, reason: String)
    /// Inconsistent features, labels or scenario.
    case invalidData(String)
    /// Saved parameters that do not fit the method.
    case invalidParameters(name: String, reason: String)
    /// A resume request that does not fit the run.
    case invalidResume(String)
    /// A LAPACK routine that failed (`info` as returned).
    case lapack(routine: String, info: Int)
    /// A method that needs something not provided (e.g. prompt tuning without a text encoder).
    case missingDependency(String)
    /// A learner state directory that cannot be used (`clipcl learn`, `predict`, `export`), or a task it refuses.
    case learner(String)

    public var description: String {
        switch self {
        case let .nonFinite(what, task, epoch, step):
            "non-finite \(what) at task \(task), epoch \(epoch), step \(step) — training stopped"
        case let .trainingFailed(task, epoch, step, reason):
            "training failed at task \(task), epoch \(epoch), step \(step): \(reason)"
        case let .invalidConfig(key, reason):
            "config key \"\(key)\": \(reason)"
        case let .invalidData(reason):
            "invalid data: \(reason)"
        case let .invalidParameters(name, reason):
            "parameter \"\(name)\": \(reason)"
        case let .invalidResume(reason):
            "cannot resume: \(reason)"
        case let .lapack(routine, info):
            "LAPACK \(routine) failed with info = \(info)"
        case let .missingDependency(what):
            "missing dependency: \(what)"
        case let .learner(reason):
            reason
        }
    }
}
