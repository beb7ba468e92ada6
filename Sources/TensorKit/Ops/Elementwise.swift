/// Element-wise arithmetic with broadcasting, and unary maps.

public enum BinaryOp: Sendable {
    case add, sub, mul, div

    var name: String {
        switch self {
        case .add: "add"
        case .sub: "sub"
        case .mul: "mul"
        case .div: "div"
        }
    }

    @inline(__always)
    func apply(_ x: Vec16, _ y: Vec16) -> Vec16 {
        switch self {
        case .add: x + y
        case .sub: x - y
        case .mul: x * y
        case .div: x / y
        }
    }

    @inline(__always)
    func apply(_ x: Float, _ y: Float) -> Float {
        switch self {
        case .add: x + y
        case .sub: x - y
        case .mul: x * y
        case .div: x / y
        }
    }
}

extension Tensor {
    /// `self ⊙ other` with broadcasting.
    public func elementwise(_ op: BinaryOp, _ other: Tensor) throws(TensorError) -> Tensor {
        let outShape = try broadcastShape(shape, other.shape, op: op.name)
        let n = try Tensor.elementCount(outShape, op: op.name)
        var out = [Float](repeating: 0, count: n)
        if n == 0 { return Tensor(unchecked: outShape, storage: out) }
        storage.withUnsafeBufferPointer { a in
            other.storage.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { o in
                    let ap = a.baseAddress!, bp = b.baseAddress!, op_ = o.baseAddress!
                    if shape == other.shape {
                        zipVectorised(ap, bp, op_, n) { op.apply($0, $1) }
                    } else if other.count == 1 {
                        let s = Vec16(repeating: bp[0])
                        mapVectorised(ap, op_, n) { op.apply($0, s) }
                    } else if count == 1 {
                        let s = Vec16(repeating: ap[0])
                        mapVectorised(bp, op_, n) { op.apply(s, $0) }
                    } else if shape == outShape, isSuffix(other.shape, of: outShape) {
                        // Common case: a bias or per-feature scale broadcast over leading rows.
                        let inner = other.count
                        for r in 0..<(n / inner) {
                            zipVectorised(ap + r * inner, bp, op_ + r * inner, inner) { op.apply($0, $1) }
                        }
                    } else {
                        broadcastLoop(op, ap, shape, bp, other.shape, op_, outShape)
                    }
                }
            }
        }
        return Tensor(unchecked: outShape, storage: out)
    }

    public static func + (a: Tensor, b: Tensor) throws(TensorError) -> Tensor { try a.elementwise(.add, b) }
    public static func - (a: Tensor, b: Tensor) throws(TensorError) -> Tensor { try a.elementwise(.sub, b) }
    public static func * (a: Tensor, b: Tensor) throws(TensorError) -> Tensor { try a.elementwise(.mul, b) }
    public static func / (a: Tensor, b: Tensor) throws(TensorError) -> Tensor { try a.elementwise(.div, b) }

    /// Applies a vector function to every element.
    @inline(__always)
    public func map(_ f: (Vec16) -> Vec16) -> Tensor {
        var out = [Float](repeating: 0, count: count)
        storage.withUnsafeBufferPointer { a in
            out.withUnsafeMutableBufferPointer { o in
                if count > 0 { mapVectorised(a.baseAddress!, o.baseAddress!, count, f) }
            }
        }
        return Tensor(unchecked: shape, storage: out)
    }

    /// Combines two tensors of identical shape element by element.
    @inline(__always)
    public func zip(_ other: Tensor, op: String, _ f: (Vec16, Vec16) -> Vec16) throws(TensorError) -> Tensor {
        guard shape == other.shape else {
            throw .shapeMismatch(op: op, shapes: [shape, other.shape], reason: "shapes differ")
        }
        var out = [Float](repeating: 0, count: count)
        storage.withUnsafeBufferPointer { a in
            other.storage.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { o in
                    if count > 0 { zipVectorised(a.baseAddress!, b.baseAddress!, o.baseAddress!, count, f) }
                }
            }
        }
        return Tensor(unchecked: shape, storage: out)
    }

    public func scaled(by s: Float) -> Tensor { map { $0 * s } }
    public func adding(_ s: Float) -> Tensor { map { $0 + s } }
    public static prefix func - (a: Tensor) -> Tensor { a.map { -$0 } }
    public func exp() -> Tensor { map { vexp($0) } }
    public func sigmoid() -> Tensor { map { vsigmoid($0) } }
}

private func isSuffix(_ small: [Int], of big: [Int]) -> Bool {
    small.count <= big.count && Array(big.suffix(small.count)) == small
}

/// General strided broadcast: iterate the output, advancing input offsets by broadcast strides.
private func broadcastLoop(
    _ op: BinaryOp, _ a: UnsafePointer<Float>, _ aShape: [Int], _ b: UnsafePointer<Float>, _ bShape: [Int],
    _ out: UnsafeMutablePointer<Float>, _ outShape: [Int]
) {
    let rank = outShape.count
    let sa = broadcastStrides(aShape, to: outShape)
    let sb = broadcastStrides(bShape, to: outShape)
    let inner = outShape[rank - 1]
    let ia = sa[rank - 1], ib = sb[rank - 1]
    let rows = outShape.reduce(1, *) / max(inner, 1)
    var index = [Int](repeating: 0, count: rank)
    var oa = 0, ob = 0
    for r in 0..<rows {
        let o = out + r * inner
        for j in 0..<inner { o[j] = op.apply(a[oa + j * ia], b[ob + j * ib]) }
        // Advance the multi-index over the leading axes (odometer).
        var d = rank - 2
        while d >= 0 {
            index[d] += 1
            oa += sa[d]
            ob += sb[d]
            if index[d] < outShape[d] { break }
            oa -= sa[d] * index[d]
            ob -= sb[d] * index[d]
            index[d] = 0
            d -= 1
        }
    }
}
