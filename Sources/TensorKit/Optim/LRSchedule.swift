#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A learning-rate schedule as a factor applied to the base learning rate.
///
/// `step` is whatever unit the caller counts, starting at 0: our trainer steps `multiStep` per
/// epoch (as torch's `MultiStepLR` is usually stepped) and `cosine` per optimiser step.
public enum LRSchedule: Codable, Sendable, Equatable {
    /// Factor 1 throughout.
    case constant
    /// `gamma^k` where k is the number of milestones ≤ step (a milestone listed twice counts twice),
    /// matching torch's `MultiStepLR` at that epoch.
    case multiStep(milestones: [Int], gamma: Float)
    /// Linear warm-up `(step + 1) / warmupSteps` for `step < warmupSteps`, then cosine decay from 1
    /// to `minFactor`: `minFactor + (1 − minFactor) · ½(1 + cos(π · progress))` with
    /// `progress = (step − warmupSteps) / (totalSteps − warmupSteps)` clamped to [0, 1].
    case cosine(warmupSteps: Int, totalSteps: Int, minFactor: Float)

    public func factor(atStep step: Int) -> Float {
        switch self {
        case .constant:
            return 1
        case let .multiStep(milestones, gamma):
            let passed = milestones.reduce(0) { $0 + ($1 <= step ? 1 : 0) }
            return Float(pow(Double(gamma), Double(passed)))
        case let .cosine(warmupSteps, totalSteps, minFactor):
            if step < warmupSteps {
                return Float(Double(max(step, 0) + 1) / Double(warmupSteps))
            }
            let decaySteps = max(totalSteps - warmupSteps, 1)
            let progress = min(max(Double(step - warmupSteps) / Double(decaySteps), 0), 1)
            let minF = Double(minFactor)
            return Float(minF + (1 - minF) * 0.5 * (1 + cos(Double.pi * progress)))
        }
    }
}
