/// A dense, row-major Float32 tensor with contiguous storage.
///
/// `Tensor` is a value type: `storage` is a Swift array, so copies share memory until one of
/// them is written (copy-on-write). Shapes are outermost-first, as in PyTorch and safetensors.
/// A rank-0 tensor (`shape == []`) holds one scalar.
public struct Tensor: Sendable, Equatable {
    public private(set) var shape: [Int]
    public var storage: [Float]

    /// Creates a tensor, checking that `storage.count` equals the product of `shape`.
    public init(shape: [Int], storage: [Float]) throws(TensorError) {
        let n = try Tensor.elementCount(shape, op: "Tensor")
        guard n == storage.count else {
            throw .invalidArgument(op: "Tensor", reason: "shape \(shape) needs \(n) elements, got \(storage.count)")
        }
        self.shape = shape
        self.storage = storage
    }

    /// Creates a tensor whose element count is known to match (internal fast path).
    public init(unchecked shape: [Int], storage: [Float]) {
        self.shape = shape
        self.storage = storage
    }

    public init(zeros shape: [Int]) throws(TensorError) {
        self.init(unchecked: shape, storage: [Float](repeating: 0, count: try Tensor.elementCount(shape, op: "zeros")))
    }

    public init(repeating value: Float, shape: [Int]) throws(TensorError) {
        self.init(unchecked: shape, storage: [Float](repeating: value, count: try Tensor.elementCount(shape, op: "repeating")))
    }

    /// A rank-0 tensor.
    public init(scalar: Float) {
        self.init(unchecked: [], storage: [scalar])
    }

    /// A rank-1 tensor.
    public init(_ values: [Float]) {
        self.init(unchecked: [values.count], storage: values)
    }

    public var count: Int { storage.count }
    public var rank: Int { shape.count }

    /// The single value of a one-element tensor.
    public var scalar: Float? { storage.count == 1 ? storage[0] : nil }

    /// Product of `shape`, refusing negative dimensions and overflow.
    public static func elementCount(_ shape: [Int], op: String) throws(TensorError) -> Int {
        var n = 1
        for d in shape {
            guard d >= 0 else { throw .invalidArgument(op: op, reason: "negative dimension in shape \(shape)") }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow else { throw .invalidArgument(op: op, reason: "shape \(shape) overflows Int") }
            n = p
        }
        return n
    }

    /// Row-major strides of `shape` (in elements).
    public static func strides(of shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= shape[i]
        }
        return s
    }

    /// Normalises a possibly negative axis (`-1` = last) and checks its range.
    public func axis(_ axis: Int, op: String) throws(TensorError) -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0 && a < rank else {
            throw .invalidArgument(op: op, reason: "axis \(axis) out of range for shape \(shape)")
        }
        return a
    }

    /// Same storage, new shape with the same element count. One dimension may be -1.
    public func reshaped(_ newShape: [Int]) throws(TensorError) -> Tensor {
        var resolved = newShape
        let inferred = newShape.indices.filter { newShape[$0] == -1 }
        guard inferred.count <= 1 else {
            throw .invalidArgument(op: "reshape", reason: "more than one -1 in \(newShape)")
        }
        if let i = inferred.first {
            var known = newShape
            known[i] = 1
            let k = try Tensor.elementCount(known, op: "reshape")
            guard k > 0, count % k == 0 else {
                throw .shapeMismatch(op: "reshape", shapes: [shape, newShape], reason: "cannot infer -1")
            }
            resolved[i] = count / k
        }
        let n = try Tensor.elementCount(resolved, op: "reshape")
        guard n == count else {
            throw .shapeMismatch(op: "reshape", shapes: [shape, newShape], reason: "element counts differ")
        }
        return Tensor(unchecked: resolved, storage: storage)
    }

    /// Element at a multi-index (for tests and small tensors; not for hot loops).
    public subscript(_ index: Int...) -> Float {
        get { storage[flatIndex(index)] }
        set { storage[flatIndex(index)] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == rank, "index rank \(index.count) for shape \(shape)")
        var flat = 0
        for (i, d) in Swift.zip(index, shape) {
            precondition(i >= 0 && i < d, "index \(index) out of range for shape \(shape)")
            flat = flat * d + i
        }
        return flat
    }

    /// Largest absolute element-wise difference (for tests and parity checks).
    public func maxAbsDifference(_ other: Tensor) -> Float? {
        guard shape == other.shape else { return nil }
        var m: Float = 0
        for i in 0..<count { m = max(m, abs(storage[i] - other.storage[i])) }
        return m
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = storage.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(\(shape), [\(preview)\(count > 8 ? ", …" : "")])"
    }
}
