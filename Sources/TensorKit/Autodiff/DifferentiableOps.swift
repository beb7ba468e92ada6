/// The differentiable versions of the tensor operations. Each forward calls the tensor kernel;
/// each backward is written out by hand and checked against finite differences in the tests.

extension Variable {
    // MARK: - Element-wise arithmetic (with broadcasting)

    public func elementwise(_ op: BinaryOp, _ other: Variable) throws(TensorError) -> Variable {
        let a = value, b = other.value
        let y = try a.elementwise(op, b)
        return Variable(y, inputs: [self, other]) { g throws(TensorError) in
            let ga: Tensor, gb: Tensor
            switch op {
            case .add: ga = g; gb = g
            case .sub: ga = g; gb = -g
            case .mul: ga = try g * b; gb = try g * a
            case .div:
                ga = try g / b
                gb = -(try (try g * a) / (try b * b))
            }
            return [try ga.sumToShape(a.shape), try gb.sumToShape(b.shape)]
        }
    }

    public static func + (a: Variable, b: Variable) throws(TensorError) -> Variable { try a.elementwise(.add, b) }
    public static func - (a: Variable, b: Variable) throws(TensorError) -> Variable { try a.elementwise(.sub, b) }
    public static func * (a: Variable, b: Variable) throws(TensorError) -> Variable { try a.elementwise(.mul, b) }
    public static func / (a: Variable, b: Variable) throws(TensorError) -> Variable { try a.elementwise(.div, b) }

    public func scaled(by s: Float) -> Variable {
        Variable(value.scaled(by: s), inputs: [self]) { g in [g.scaled(by: s)] }
    }

    // MARK: - Reductions

    public func sum(axes: [Int], keepDims: Bool = false) throws(TensorError) -> Variable {
        let inShape = shape
        var kept = inShape
        for a in axes { kept[try value.axis(a, op: "sum")] = 1 }
        let keptShape = kept
        return Variable(try value.sum(axes: axes, keepDims: keepDims), inputs: [self]) { g throws(TensorError) in
            [try Tensor(zeros: inShape) + (try g.reshaped(keptShape))]
        }
    }

    public func sum() -> Variable {
        let inShape = shape
        return Variable(value.sum(), inputs: [self]) { g throws(TensorError) in
            [try Tensor(repeating: g.storage[0], shape: inShape)]
        }
    }

    public func mean(axes: [Int], keepDims: Bool = false) throws(TensorError) -> Variable {
        var n = 1
        for a in axes { n *= shape[try value.axis(a, op: "mean")] }
        return try sum(axes: axes, keepDims: keepDims).scaled(by: 1 / Float(max(n, 1)))
    }

    public func mean() -> Variable { sum().scaled(by: 1 / Float(max(value.count, 1))) }

    // MARK: - Shape

    public func reshaped(_ newShape: [Int]) throws(TensorError) -> Variable {
        let inShape = shape
        return Variable(try value.reshaped(newShape), inputs: [self]) { g throws(TensorError) in [try g.reshaped(inShape)] }
    }

    public func permuted(_ order: [Int]) throws(TensorError) -> Variable {
        var inverse = [Int](repeating: 0, count: order.count)
        for (i, o) in order.enumerated() where o >= 0 && o < order.count { inverse[o] = i }
        let inv = inverse
        return Variable(try value.permuted(order), inputs: [self]) { g throws(TensorError) in [try g.permuted(inv)] }
    }

    public func transposed(_ a: Int = -2, _ b: Int = -1) throws(TensorError) -> Variable {
        let x = try value.axis(a, op: "transpose"), y = try value.axis(b, op: "transpose")
        var order = Array(0..<shape.count)
        order.swapAt(x, y)
        return try permuted(order)
    }

    public static func concatenate(_ parts: [Variable], axis: Int) throws(TensorError) -> Variable {
        let y = try Tensor.concatenate(parts.map(\.value), axis: axis)
        let a = try y.axis(axis, op: "concat")
        let sizes = parts.map { $0.shape[a] }
        return Variable(y, inputs: parts) { g throws(TensorError) in
            var start = 0
            var out: [Tensor?] = []
            for s in sizes {
                out.append(try g.slice(axis: a, start..<(start + s)))
                start += s
            }
            return out
        }
    }

    public func slice(axis: Int, _ range: Range<Int>) throws(TensorError) -> Variable {
        let a = try value.axis(axis, op: "slice")
        let inShape = shape
        return Variable(try value.slice(axis: a, range), inputs: [self]) { g throws(TensorError) in
            var parts: [Tensor] = []
            var before = inShape, after = inShape
            before[a] = range.lowerBound
            after[a] = inShape[a] - range.upperBound
            if before[a] > 0 { parts.append(try Tensor(zeros: before)) }
            parts.append(g)
            if after[a] > 0 { parts.append(try Tensor(zeros: after)) }
            return [try Tensor.concatenate(parts, axis: a)]
        }
    }

    /// Embedding lookup; the table's gradient scatter-adds the rows.
    public func gather(rows indices: [Int], indexShape: [Int]) throws(TensorError) -> Variable {
        let tableShape = shape
        return Variable(try value.gather(rows: indices, indexShape: indexShape), inputs: [self]) { g throws(TensorError) in
            let d = tableShape[1]
            var dt = try Tensor(zeros: tableShape)
            for (k, i) in indices.enumerated() {
                for j in 0..<d { dt.storage[i * d + j] += g.storage[k * d + j] }
            }
            return [dt]
        }
    }

    // MARK: - Linear algebra

    public static func matmul(
        _ a: Variable, _ b: Variable, transposeA: Bool = false, transposeB: Bool = false
    ) throws(TensorError) -> Variable {
        let av = a.value, bv = b.value
        let y = try Tensor.matmul(av, bv, transposeA: transposeA, transposeB: transposeB)
        let shared = bv.rank == 2 && av.rank > 2
        return Variable(y, inputs: [a, b]) { g throws(TensorError) in
            var ga: Tensor? = nil, gb: Tensor? = nil
            if a.requiresGrad {
                // C = op(A)·op(B) ⇒ d op(A) = dC·op(B)ᵀ
                let dOpA = try Tensor.matmul(g, bv, transposeB: !transposeB)
                ga = transposeA ? try dOpA.transposed() : dOpA
            }
            if b.requiresGrad {
                // d op(B) = op(A)ᵀ·dC, summed over the batch when B is shared.
                var dOpB: Tensor
                if shared && !transposeA {
                    let k = av.shape[av.rank - 1]
                    dOpB = try Tensor.matmul(try av.reshaped([-1, k]), try g.reshaped([-1, g.shape[g.rank - 1]]), transposeA: true)
                } else {
                    dOpB = try Tensor.matmul(av, g, transposeA: !transposeA)
                    if shared { dOpB = try dOpB.sum(axes: Array(0..<(dOpB.rank - 2))) }
                }
                gb = transposeB ? try dOpB.transposed() : dOpB
            }
            return [ga, gb]
        }
    }

    /// x · weightᵀ + bias with weight [out, in].
    public static func linear(_ x: Variable, weight: Variable, bias: Variable?) throws(TensorError) -> Variable {
        let xv = x.value, wv = weight.value
        let y = try Tensor.linear(xv, weight: wv, bias: bias?.value)
        let inputs = [x, weight] + (bias.map { [$0] } ?? [])
        return Variable(y, inputs: inputs) { g throws(TensorError) in
            let outF = wv.shape[0], inF = wv.shape[1]
            let g2 = try g.reshaped([-1, outF])
            let gx: Tensor? = x.requiresGrad ? try Tensor.matmul(g, wv) : nil
            let gw: Tensor? = weight.requiresGrad
                ? try Tensor.matmul(g2, try xv.reshaped([-1, inF]), transposeA: true) : nil
            var result: [Tensor?] = [gx, gw]
            if let bias { result.append(bias.requiresGrad ? try g2.sum(axes: [0]) : nil) }
            return result
        }
    }

    // MARK: - Normalisation and activations

    public func layerNorm(weight: Variable, bias: Variable, epsilon: Float = 1e-5) throws(TensorError) -> Variable {
        let xv = value, wv = weight.value
        let (y, stats) = try xv.layerNormWithStatistics(weight: wv, bias: bias.value, epsilon: epsilon)
        return Variable(y, inputs: [self, weight, bias]) { g in
            let d = wv.count, rows = d == 0 ? 0 : xv.count / d
            var dx = [Float](repeating: 0, count: xv.count)
            var dw = [Float](repeating: 0, count: d), db = [Float](repeating: 0, count: d)
            var xhat = [Float](repeating: 0, count: d), dxhat = [Float](repeating: 0, count: d)
            for r in 0..<rows {
                let m = stats.mean[r], inv = stats.inverseStd[r]
                var sumD: Float = 0, sumDX: Float = 0
                for j in 0..<d {
                    xhat[j] = (xv.storage[r * d + j] - m) * inv
                    let gj = g.storage[r * d + j]
                    dxhat[j] = gj * wv.storage[j]
                    dw[j] += gj * xhat[j]
                    db[j] += gj
                    sumD += dxhat[j]
                    sumDX += dxhat[j] * xhat[j]
                }
                let meanD = sumD / Float(d), meanDX = sumDX / Float(d)
                for j in 0..<d { dx[r * d + j] = inv * (dxhat[j] - meanD - xhat[j] * meanDX) }
            }
            return [Tensor(unchecked: xv.shape, storage: dx), Tensor(unchecked: [d], storage: dw),
                    Tensor(unchecked: [d], storage: db)]
        }
    }

    public func l2Normalized(epsilon: Float = 1e-12) throws(TensorError) -> Variable {
        let xv = value
        let y = try xv.l2Normalized(epsilon: epsilon)
        let norms = xv.rowNorms()
        return Variable(y, inputs: [self]) { g in
            let d = xv.shape.last ?? 1
            var dx = [Float](repeating: 0, count: xv.count)
            for (r, norm) in norms.enumerated() {
                let base = r * d
                if norm > epsilon {
                    // y = x/‖x‖ ⇒ dx = (dy − y·(dy·y)) / ‖x‖
                    var dot: Float = 0
                    for j in 0..<d { dot += g.storage[base + j] * y.storage[base + j] }
                    for j in 0..<d { dx[base + j] = (g.storage[base + j] - y.storage[base + j] * dot) / norm }
                } else {
                    for j in 0..<d { dx[base + j] = g.storage[base + j] / epsilon }
                }
            }
            return [Tensor(unchecked: xv.shape, storage: dx)]
        }
    }

    /// max(x, 0); the gradient at exactly 0 is taken as 0 (PyTorch's convention).
    public func relu() -> Variable {
        let xv = value
        let y = Tensor(unchecked: xv.shape, storage: xv.storage.map { max($0, 0) })
        return Variable(y, inputs: [self]) { g in
            [Tensor(unchecked: g.shape, storage: zip(g.storage, xv.storage).map { $1 > 0 ? $0 : 0 })]
        }
    }

    public func gelu() -> Variable { activation(.gelu) }
    public func quickGELU() -> Variable { activation(.quickGELU) }

    public func activation(_ a: Activation) -> Variable {
        let xv = value
        return Variable(xv.activated(a), inputs: [self]) { g throws(TensorError) in
            let derivative = switch a {
            case .gelu: xv.map(geluDerivative)
            case .quickGELU: xv.map(quickGELUDerivative)
            }
            return [try g * derivative]
        }
    }

    public func softmax(mask: SoftmaxMask = .none) throws(TensorError) -> Variable {
        let y = try value.softmax(mask: mask)
        return Variable(y, inputs: [self]) { g in
            let n = y.shape.last ?? 1
            var dx = [Float](repeating: 0, count: y.count)
            y.storage.withUnsafeBufferPointer { yp in
                g.storage.withUnsafeBufferPointer { gp in
                    dx.withUnsafeMutableBufferPointer { dp in
                        for r in 0..<(n == 0 ? 0 : y.count / n) {
                            softmaxBackwardRow(yp.baseAddress! + r * n, gp.baseAddress! + r * n, dp.baseAddress! + r * n, n)
                        }
                    }
                }
            }
            return [Tensor(unchecked: y.shape, storage: dx)]
        }
    }

    // MARK: - Attention

    /// The multi-head attention core; see `Tensor.attention`.
    public static func attention(
        query: Variable, key: Variable, value: Variable, heads: Int, mask: SoftmaxMask = .none
    ) throws(TensorError) -> Variable {
        let needsGrad = query.requiresGrad || key.requiresGrad || value.requiresGrad
        let (q, k, v) = (query.value, key.value, value.value)
        let (y, probs) = try Tensor.attention(query: q, key: k, value: v, heads: heads, mask: mask,
                                              keepProbabilities: needsGrad)
        return Variable(y, inputs: [query, key, value]) { g throws(TensorError) in
            guard let probs else { return [nil, nil, nil] }
            let (dq, dk, dv) = try Tensor.attentionBackward(query: q, key: k, value: v, probabilities: probs,
                                                            outputGradient: g, heads: heads)
            return [dq, dk, dv]
        }
    }

    // MARK: - Classification

    /// scale · cos(image_i, text_j): logits [N, C] from image [N, D] and text [C, D] embeddings.
    public static func cosineLogits(image: Variable, text: Variable, scale: Float) throws(TensorError) -> Variable {
        try matmul(try image.l2Normalized(), try text.l2Normalized(), transposeB: true).scaled(by: scale)
    }

    /// Mean cross-entropy of logits [N, C] against labels (a one-element result).
    public func crossEntropy(labels: [Int]) throws(TensorError) -> Variable {
        let (loss, p) = try value.crossEntropy(labels: labels)
        return Variable(Tensor(scalar: loss), inputs: [self]) { g in
            let (n, c) = (p.shape[0], p.shape[1])
            var d = p.storage
            let s = g.storage[0] / Float(n)
            for i in 0..<n {
                d[i * c + labels[i]] -= 1
                for j in 0..<c { d[i * c + j] *= s }
            }
            return [Tensor(unchecked: p.shape, storage: d)]
        }
    }
}
