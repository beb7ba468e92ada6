/// Classification heads and losses: cross-entropy, argmax, top-k.

import Foundation

extension Tensor {
    /// Mean cross-entropy of logits [N, C] against integer labels; also returns the softmax
    /// probabilities, which the backward pass reuses.
    public func crossEntropy(labels: [Int]) throws(TensorError) -> (loss: Float, probabilities: Tensor) {
        guard rank == 2, shape[0] == labels.count else {
            throw .shapeMismatch(op: "crossEntropy", shapes: [shape, [labels.count]], reason: "need logits [N, C] and N labels")
        }
        let (n, c) = (shape[0], shape[1])
        guard n > 0 else { throw .invalidArgument(op: "crossEntropy", reason: "empty batch") }
        if let bad = labels.first(where: { $0 < 0 || $0 >= c }) {
            throw .invalidArgument(op: "crossEntropy", reason: "label \(bad) outside 0..<\(c)")
        }
        let p = try softmax()
        var total: Double = 0
        var scratch = [Float](repeating: 0, count: c)
        storage.withUnsafeBufferPointer { x in
            scratch.withUnsafeMutableBufferPointer { e in
                for i in 0..<n {
                    // log-softmax from the logits directly (stable for confident predictions).
                    let row = x.baseAddress! + i * c
                    let m = vmax(row, c)
                    let mv = Vec16(repeating: m)
                    mapVectorised(row, e.baseAddress!, c) { vexp($0 - mv) }
                    total += Double(m) + log(Double(vsum(e.baseAddress!, c))) - Double(row[labels[i]])
                }
            }
        }
        return (Float(total / Double(n)), p)
    }

    /// Index of the largest value along the last axis, for every row (first index wins ties).
    public func argmax() -> [Int] {
        let c = shape.last ?? 1
        guard c > 0 else { return [] }
        return (0..<(count / c)).map { r in
            var best = 0
            for j in 1..<c where storage[r * c + j] > storage[r * c + best] { best = j }
            return best
        }
    }

    /// The k largest values along the last axis and their indices, descending (lower index first on ties).
    public func topK(_ k: Int) throws(TensorError) -> (values: [[Float]], indices: [[Int]]) {
        let c = shape.last ?? 1
        guard k >= 1 && k <= c else {
            throw .invalidArgument(op: "topK", reason: "k = \(k) outside 1...\(c) for shape \(shape)")
        }
        var values: [[Float]] = [], indices: [[Int]] = []
        for r in 0..<(count / c) {
            let order = (0..<c).sorted {
                let a = storage[r * c + $0], b = storage[r * c + $1]
                return a > b || (a == b && $0 < $1)
            }.prefix(k)
            indices.append(Array(order))
            values.append(order.map { storage[r * c + $0] })
        }
        return (values, indices)
    }
}

