/// Random and structured tensor initialisers. Elements are drawn in row-major order, one generator
/// call per element, so a seed fixes every value.
///
/// Invalid arguments (negative dimensions, low > high, …) are programming errors and stop the
/// program with a message, so that call sites need no `try`.
extension Tensor {
    /// Uniform samples in [low, high): `low + (high − low) · u` with `u = generator.uniform()`.
    public static func uniform(shape: [Int], low: Float = 0, high: Float = 1,
                               using generator: inout RandomGenerator) -> Tensor {
        precondition(low.isFinite && high.isFinite && low <= high, "uniform: needs finite low ≤ high, got [\(low), \(high))")
        let n = initializerCount(shape, op: "uniform")
        let span = high - low
        // Float rounding of low + span·u can land on `high` itself; keep the interval half-open.
        let largest = high > low ? high.nextDown : low
        let storage = [Float](unsafeUninitializedCapacity: n) { out, initialized in
            for i in 0..<n { out[i] = min(low + span * generator.uniform(), largest) }
            initialized = n
        }
        return Tensor(unchecked: shape, storage: storage)
    }

    /// Normal samples (Box–Muller, see `RandomGenerator.normal`).
    public static func normal(shape: [Int], mean: Float = 0, std: Float = 1,
                              using generator: inout RandomGenerator) -> Tensor {
        precondition(mean.isFinite && std.isFinite && std >= 0, "normal: needs finite mean and std ≥ 0, got mean \(mean), std \(std)")
        let n = initializerCount(shape, op: "normal")
        let storage = [Float](unsafeUninitializedCapacity: n) { out, initialized in
            for i in 0..<n { out[i] = generator.normal(mean: mean, std: std) }
            initialized = n
        }
        return Tensor(unchecked: shape, storage: storage)
    }

    /// PyTorch's default `nn.Linear` weight, shape [outFeatures, inFeatures]:
    /// `kaiming_uniform_(a: √5)` gives gain √(2/(1+a²)) = √(1/3) and bound = gain·√(3/fan_in) = 1/√fan_in,
    /// i.e. U(−1/√inFeatures, 1/√inFeatures). (Same distribution as PyTorch, not the same numbers:
    /// PyTorch uses its own generator.)
    public static func linearWeightDefault(outFeatures: Int, inFeatures: Int,
                                           using generator: inout RandomGenerator) -> Tensor {
        precondition(outFeatures >= 0 && inFeatures > 0, "linearWeightDefault: needs outFeatures ≥ 0 and inFeatures > 0, got \(outFeatures), \(inFeatures)")
        let bound = 1 / Float(inFeatures).squareRoot()
        return uniform(shape: [outFeatures, inFeatures], low: -bound, high: bound, using: &generator)
    }

    /// PyTorch's default `nn.Linear` bias, shape [outFeatures]: U(−1/√inFeatures, 1/√inFeatures).
    public static func linearBiasDefault(outFeatures: Int, inFeatures: Int,
                                         using generator: inout RandomGenerator) -> Tensor {
        precondition(outFeatures >= 0 && inFeatures > 0, "linearBiasDefault: needs outFeatures ≥ 0 and inFeatures > 0, got \(outFeatures), \(inFeatures)")
        let bound = 1 / Float(inFeatures).squareRoot()
        return uniform(shape: [outFeatures], low: -bound, high: bound, using: &generator)
    }

    /// The n×n identity matrix.
    public static func identity(_ n: Int) -> Tensor {
        precondition(n >= 0, "identity: negative size \(n)")
        var t = Tensor(unchecked: [n, n], storage: [Float](repeating: 0, count: initializerCount([n, n], op: "identity")))
        t.storage.withUnsafeMutableBufferPointer { p in
            for i in 0..<n { p[i * n + i] = 1 }
        }
        return t
    }

    /// Element count of `shape`; an invalid shape is a programming error here.
    private static func initializerCount(_ shape: [Int], op: String) -> Int {
        guard let n = try? Tensor.elementCount(shape, op: op) else {
            preconditionFailure("\(op): invalid shape \(shape)")
        }
        return n
    }
}
