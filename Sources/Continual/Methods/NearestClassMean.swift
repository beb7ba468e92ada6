import TensorKit

/// Nearest class mean on frozen embeddings: logits = scale · cos(f, μ_c), where μ_c is the mean of
/// the L2-normalised training embeddings of class c (`ncm`), or of the raw embeddings (`simplecil`: SimpleCIL/ADAM,
/// Zhou et al., as LAMDA-PILOT's `models/simplecil.py`: prototypes are the mean of un-normalised features, scored by a
/// cosine classifier whose scale σ = 1 is never trained).
///
/// Means accumulate per task from that task's data only: a class's mean is computed while its data
/// is present, so the exemplar-free protocol holds. Stored as `sums` [C, D] (sum of the normalised or raw
/// embeddings, by original label id) and `counts` [C] (samples per class; 0 = not yet seen), so a
/// class met again would be merged exactly.
public struct NearestClassMean: ContinualMethod {
    var state: AdapterParameters
    /// true: average L2-normalised embeddings (NCM); false: raw embeddings (SimpleCIL).
    let normalizeSamples: Bool

    public init(dimension: Int, classCount: Int, normalizeSamples: Bool = true) {
        self.normalizeSamples = normalizeSamples
        state = AdapterParameters([
            ("sums", Tensor(unchecked: [classCount, dimension], storage: [Float](repeating: 0, count: classCount * dimension))),
            ("counts", Tensor(unchecked: [classCount], storage: [Float](repeating: 0, count: classCount))),
        ], rule: .none)
    }

    public var description: String {
        normalizeSamples ? "ncm: cosine to the mean of L2-normalised frozen embeddings per class, no training"
                         : "simplecil: cosine to the mean of raw frozen embeddings per class (SimpleCIL prototypes), no training"
    }

    public mutating func beginTask(_ t: Int, context: TaskContext) throws {}

    public mutating func train(task: Int, data: TaskData, context: TaskContext, rng: inout RandomGenerator,
                               log: (TrainingEvent) -> Void) throws {
        var sums = state["sums"], counts = state["counts"]
        let d = sums.shape[1]
        let x = normalizeSamples ? try data.features.l2Normalized() : data.features
        for (i, label) in data.labels.enumerated() {
            guard label >= 0 && label < counts.count else {
                throw ContinualError.invalidData("ncm: label \(label) outside 0..<\(counts.count)")
            }
            for j in 0..<d { sums.storage[label * d + j] += x.storage[i * d + j] }
            counts.storage[label] += 1
        }
        state.values["sums"] = sums
        state.values["counts"] = counts
    }

    public mutating func endTask(_ t: Int, context: TaskContext) throws {}

    public func logits(features: Tensor, seenClasses: [Int], context: TaskContext) throws -> Tensor {
        let counts = state["counts"]
        for c in seenClasses where counts.storage[c] == 0 {
            throw ContinualError.invalidData("ncm: class \(c) has no mean (no training samples seen)")
        }
        // The sum's direction is the mean's direction; cosine needs only that.
        let means = try state["sums"].gather(rows: seenClasses, indexShape: [seenClasses.count]).l2Normalized()
        return try Tensor.matmul(try features.l2Normalized(), means, transposeB: true).scaled(by: context.logitScale)
    }

    public var parameters: [String: Tensor] { state.values }

    public mutating func load(parameters: [String: Tensor]) throws { try state.load(parameters) }
}
