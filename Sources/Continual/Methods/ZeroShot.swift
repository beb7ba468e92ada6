import TensorKit

/// Continual-CLIP zero-shot baseline: logits = scale · cos(f, text_c) over the seen classes.
/// Nothing is trained and nothing is stored.
public struct ZeroShot: ContinualMethod {
    public init() {}

    public var description: String { "zeroshot (Continual-CLIP): scale · cos(image, text), no training" }

    public mutating func beginTask(_ t: Int, context: TaskContext) throws {}
    public mutating func train(task: Int, data: TaskData, context: TaskContext, rng: inout RandomGenerator,
                               log: (TrainingEvent) -> Void) throws {}
    public mutating func endTask(_ t: Int, context: TaskContext) throws {}

    public func logits(features: Tensor, seenClasses: [Int], context: TaskContext) throws -> Tensor {
        let text = try context.textFeatures(for: seenClasses).l2Normalized()
        return try Tensor.matmul(try features.l2Normalized(), text, transposeB: true).scaled(by: context.logitScale)
    }

    public var parameters: [String: Tensor] { [:] }

    public mutating func load(parameters: [String: Tensor]) throws {
        if let name = parameters.keys.sorted().first {
            throw ContinualError.invalidParameters(name: name, reason: "zeroshot has no parameters")
        }
    }
}
