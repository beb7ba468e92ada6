/// Sums and means over axes.

extension Tensor {
    /// Σ over the given axes (negative axes count from the end). With `keepDims` the reduced axes stay as 1.
    public func sum(axes: [Int], keepDims: Bool = false) throws(TensorError) -> Tensor {
        var normalized: [Int] = []
        for a in axes { normalized.append(try axis(a, op: "sum")) }
        let unique = Set(normalized).sorted(by: >)
        guard unique.count == normalized.count else {
            throw .invalidArgument(op: "sum", reason: "repeated axis in \(axes) for shape \(shape)")
        }
        var result = self
        for a in unique { result = result.sumAxisKeepingDim(a) }
        if !keepDims {
            let kept = result.shape.enumerated().filter { !unique.contains($0.offset) }.map(\.element)
            result = Tensor(unchecked: kept, storage: result.storage)
        }
        return result
    }

    /// Σ of every element, as a rank-0 tensor.
    public func sum() -> Tensor {
        Tensor(scalar: storage.withUnsafeBufferPointer { count == 0 ? 0 : vsum($0.baseAddress!, count) })
    }

    public func mean(axes: [Int], keepDims: Bool = false) throws(TensorError) -> Tensor {
        var n = 1
        for a in axes { n *= shape[try axis(a, op: "mean")] }
        return try sum(axes: axes, keepDims: keepDims).scaled(by: 1 / Float(max(n, 1)))
    }

    public func mean() -> Tensor { sum().scaled(by: 1 / Float(max(count, 1))) }

    /// Reduces one axis to size 1: view as [outer, n, inner] and add the n slabs.
    private func sumAxisKeepingDim(_ a: Int) -> Tensor {
        let n = shape[a]
        let inner = shape[(a + 1)...].reduce(1, *)
        let outer = shape[..<a].reduce(1, *)
        var outShape = shape
        outShape[a] = 1
        var out = [Float](repeating: 0, count: outer * inner)
        storage.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                guard let xp = x.baseAddress, let op = o.baseAddress else { return }
                if inner == 1 {
                    for i in 0..<outer { op[i] = vsum(xp + i * n, n) }
                } else {
                    for i in 0..<outer {
                        let dst = op + i * inner
                        for r in 0..<n {
                            zipVectorised(dst, xp + (i * n + r) * inner, dst, inner) { $0 + $1 }
                        }
                    }
                }
            }
        }
        return Tensor(unchecked: outShape, storage: out)
    }
}
