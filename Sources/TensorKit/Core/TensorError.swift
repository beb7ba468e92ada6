/// Errors raised by tensor operations. Every case names the operation and, where shapes are
/// involved, the shapes it was given, so a message reads like
/// `matmul: inner dimensions differ: [2, 3] × [4, 5]`.
public enum TensorError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Operand shapes that the operation cannot combine.
    case shapeMismatch(op: String, shapes: [[Int]], reason: String)
    /// An argument outside its valid range (axis, index, count, hyper-parameter...).
    case invalidArgument(op: String, reason: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(op, shapes, reason):
            let s = shapes.map { "\($0)" }.joined(separator: " × ")
            return "\(op): \(reason): \(s)"
        case let .invalidArgument(op, reason):
            return "\(op): \(reason)"
        }
    }
}
