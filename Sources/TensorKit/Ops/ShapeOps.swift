/// Data-movement operations: permute, transpose, concatenate, slice, gather.

extension Tensor {
    /// Reorders axes: output axis i is input axis `order[i]`.
    public func permuted(_ order: [Int]) throws(TensorError) -> Tensor {
        guard order.count == rank, Set(order) == Set(0..<rank) else {
            throw .invalidArgument(op: "permute", reason: "\(order) is not a permutation of the axes of \(shape)")
        }
        if order == Array(0..<rank) { return self }
        let outShape = order.map { shape[$0] }
        let inStrides = Tensor.strides(of: shape)
        let strideFor = order.map { inStrides[$0] }
        var out = [Float](repeating: 0, count: count)
        if count == 0 { return Tensor(unchecked: outShape, storage: out) }
        storage.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                let inner = outShape[rank - 1], innerStride = strideFor[rank - 1]
                var index = [Int](repeating: 0, count: rank)
                var offset = 0
                var w = 0
                for _ in 0..<(count / inner) {
                    for j in 0..<inner { o[w + j] = x[offset + j * innerStride] }
                    w += inner
                    var d = rank - 2
                    while d >= 0 {
                        index[d] += 1
                        offset += strideFor[d]
                        if index[d] < outShape[d] { break }
                        offset -= strideFor[d] * index[d]
                        index[d] = 0
                        d -= 1
                    }
                }
            }
        }
        return Tensor(unchecked: outShape, storage: out)
    }

    /// Swaps two axes.
    public func transposed(_ a: Int = -2, _ b: Int = -1) throws(TensorError) -> Tensor {
        let x = try axis(a, op: "transpose"), y = try axis(b, op: "transpose")
        var order = Array(0..<rank)
        order.swapAt(x, y)
        return try permuted(order)
    }

    /// Joins tensors along `axis`; all other dimensions must agree.
    public static func concatenate(_ parts: [Tensor], axis: Int) throws(TensorError) -> Tensor {
        guard let first = parts.first else { throw .invalidArgument(op: "concat", reason: "no tensors given") }
        let a = try first.axis(axis, op: "concat")
        for p in parts {
            guard p.rank == first.rank,
                  p.shape.enumerated().allSatisfy({ $0.offset == a || $0.element == first.shape[$0.offset] })
            else { throw .shapeMismatch(op: "concat", shapes: parts.map(\.shape), reason: "shapes differ off axis \(a)") }
        }
        let outer = first.shape[..<a].reduce(1, *)
        let inner = first.shape[(a + 1)...].reduce(1, *)
        var outShape = first.shape
        outShape[a] = parts.reduce(0) { $0 + $1.shape[a] }
        var out = [Float]()
        out.reserveCapacity(outer * outShape[a] * inner)
        for o in 0..<outer {
            for p in parts {
                let block = p.shape[a] * inner
                out.append(contentsOf: p.storage[(o * block)..<((o + 1) * block)])
            }
        }
        return Tensor(unchecked: outShape, storage: out)
    }

    /// Elements `range` along `axis`.
    public func slice(axis: Int, _ range: Range<Int>) throws(TensorError) -> Tensor {
        let a = try self.axis(axis, op: "slice")
        guard range.lowerBound >= 0 && range.upperBound <= shape[a] else {
            throw .invalidArgument(op: "slice", reason: "range \(range) out of bounds for axis \(a) of \(shape)")
        }
        let outer = shape[..<a].reduce(1, *)
        let inner = shape[(a + 1)...].reduce(1, *)
        var outShape = shape
        outShape[a] = range.count
        var out = [Float]()
        out.reserveCapacity(outer * range.count * inner)
        for o in 0..<outer {
            let base = (o * shape[a] + range.lowerBound) * inner
            out.append(contentsOf: storage[base..<(base + range.count * inner)])
        }
        return Tensor(unchecked: outShape, storage: out)
    }

    /// Embedding lookup: rows of a [V, D] table at `indices`, giving `indexShape + [D]`.
    public func gather(rows indices: [Int], indexShape: [Int]) throws(TensorError) -> Tensor {
        guard rank == 2 else { throw .shapeMismatch(op: "gather", shapes: [shape], reason: "table must be [V, D]") }
        guard try Tensor.elementCount(indexShape, op: "gather") == indices.count else {
            throw .invalidArgument(op: "gather", reason: "index shape \(indexShape) does not hold \(indices.count) indices")
        }
        let v = shape[0], d = shape[1]
        var out = [Float]()
        out.reserveCapacity(indices.count * d)
        for i in indices {
            guard i >= 0 && i < v else {
                throw .invalidArgument(op: "gather", reason: "index \(i) out of range for table \(shape)")
            }
            out.append(contentsOf: storage[(i * d)..<((i + 1) * d)])
        }
        return Tensor(unchecked: indexShape + [d], storage: out)
    }
}
