/// NumPy-style broadcasting: shapes are aligned at their last axis; a dimension of 1 stretches.

/// The broadcast shape of `a` and `b`, or a `shapeMismatch` naming `op`.
public func broadcastShape(_ a: [Int], _ b: [Int], op: String) throws(TensorError) -> [Int] {
    let rank = max(a.count, b.count)
    var out = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        guard da == db || da == 1 || db == 1 else {
            throw .shapeMismatch(op: op, shapes: [a, b], reason: "shapes cannot be broadcast")
        }
        out[i] = da == 1 ? db : da
    }
    return out
}

/// Strides (in elements) for reading a tensor of `shape` as if it had `target` shape:
/// broadcast dimensions get stride 0.
func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
    let own = Tensor.strides(of: shape)
    let offset = target.count - shape.count
    return (0..<target.count).map { i in
        i < offset || shape[i - offset] == 1 ? 0 : own[i - offset]
    }
}

extension Tensor {
    /// Sums a broadcast gradient back to `shape` (the inverse of broadcasting `shape` to self.shape).
    public func sumToShape(_ shape: [Int]) throws(TensorError) -> Tensor {
        if self.shape == shape { return self }
        let offset = self.shape.count - shape.count
        guard offset >= 0 else {
            throw .shapeMismatch(op: "sumToShape", shapes: [self.shape, shape], reason: "target has higher rank")
        }
        var axes: [Int] = Array(0..<offset)
        for i in 0..<shape.count where shape[i] != self.shape[i + offset] {
            guard shape[i] == 1 else {
                throw .shapeMismatch(op: "sumToShape", shapes: [self.shape, shape], reason: "not a broadcast of")
            }
            axes.append(i + offset)
        }
        return try sum(axes: axes, keepDims: true).reshaped(shape)
    }
}
