import CKernels
/// Softmax over the last axis, with optional causal and key-padding masks.
///
/// Both masks keep a prefix of each row: with a causal mask query i sees keys 0...i (shifted by
/// Lk − Lq when there are more keys than queries); with key lengths, batch entry b sees keys
/// 0..<keyLengths[b] (the batch is the first axis). Masked entries come out exactly 0, and a row
/// with no visible key is all zeros.
public struct SoftmaxMask: Sendable, Equatable {
    public var causal: Bool
    public var keyLengths: [Int]?

    public init(causal: Bool = false, keyLengths: [Int]? = nil) {
        self.causal = causal
        self.keyLengths = keyLengths
    }

    public static let none = SoftmaxMask()
    public static let causal = SoftmaxMask(causal: true)

    var isNone: Bool { !causal && keyLengths == nil }

    /// Checks the mask against a score tensor of `shape` and returns the number of rows per batch entry.
    func validate(_ shape: [Int], op: String) throws(TensorError) {
        guard shape.count >= 2 || isNone else {
            throw .shapeMismatch(op: op, shapes: [shape], reason: "a masked softmax needs rank ≥ 2")
        }
        if let keyLengths {
            guard shape.count >= 3, keyLengths.count == shape[0] else {
                throw .shapeMismatch(op: op, shapes: [shape, [keyLengths.count]],
                                     reason: "key lengths need one entry per batch entry (axis 0) of a rank ≥ 3 tensor")
            }
            let lk = shape[shape.count - 1]
            guard keyLengths.allSatisfy({ $0 >= 0 && $0 <= lk }) else {
                throw .invalidArgument(op: op, reason: "key lengths \(keyLengths) outside 0...\(lk)")
            }
        }
    }

    /// Number of visible keys for row `i` (query index within its matrix) of batch entry `batch`.
    @inline(__always)
    func visible(query i: Int, queries lq: Int, keys lk: Int, batch: Int) -> Int {
        var n = lk
        if causal { n = Swift.min(n, Swift.max(0, i + 1 + lk - lq)) }
        if let keyLengths { n = Swift.min(n, keyLengths[batch]) }
        return n
    }
}

extension Tensor {
    public func softmax(mask: SoftmaxMask = .none) throws(TensorError) -> Tensor {
        try mask.validate(shape, op: "softmax")
        guard rank >= 1 else { throw .shapeMismatch(op: "softmax", shapes: [shape], reason: "needs rank ≥ 1") }
        let lk = shape[rank - 1]
        let lq = rank >= 2 ? shape[rank - 2] : 1
        let perBatch = rank >= 1 && shape[0] > 0 ? count / shape[0] : 0
        var out = [Float](repeating: 0, count: count)
        storage.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                for r in 0..<(lk == 0 ? 0 : count / lk) {
                    let valid = mask.isNone ? lk
                        : mask.visible(query: r % lq, queries: lq, keys: lk, batch: perBatch == 0 ? 0 : (r * lk) / perBatch)
                    softmaxRow(x.baseAddress! + r * lk, o.baseAddress! + r * lk, valid)
                }
            }
        }
        return Tensor(unchecked: shape, storage: out)
    }
}

/// softmax of x[0..<valid] into o[0..<valid]; o[valid...] must already be zero.
@inline(__always)
func softmaxRow(_ x: UnsafePointer<Float>, _ o: UnsafeMutablePointer<Float>, _ valid: Int) {
    guard valid > 0 else { return }
    ck_softmax_row(x, o, Int32(valid), 1)   // AVX-512 where the CPU has it, as the activations
}

/// Softmax backward for one row: dx = y ⊙ (dy − Σ dy⊙y).
@inline(__always)
func softmaxBackwardRow(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
    let s = Vec16(repeating: vdot(y, dy, n))
    zipVectorised(y, dy, dx, n) { $0 * ($1 - s) }
}
