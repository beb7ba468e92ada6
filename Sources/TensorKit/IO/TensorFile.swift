import Foundation

/// A checkpoint file of named tensors, read in place: safetensors (`SafeTensorsFile`) or a PyTorch
/// `torch.save` archive (`TorchCheckpointFile`). Model loaders see only this.
public protocol TensorFile: AnyObject, Sendable {
    var url: URL { get }
    /// Tensor names, sorted.
    var names: [String] { get }
    /// The shape of tensor `name`, nil when there is none.
    func shape(of name: String) -> [Int]?
    /// Tensor `name` as Float32 (floating-point tensors only).
    func tensor(_ name: String) throws -> Tensor
    /// Lets the kernel drop the pages the tensor was read from.
    func adviseDone(_ name: String)
}

extension SafeTensorsDType {
    /// `count` little-endian elements of this floating-point type at `raw` as Float32, or nil for integer types.
    func floats(from raw: UnsafeRawBufferPointer, count: Int) -> [Float]? {
        switch self {
        case .f32:
            return [Float](unsafeUninitializedCapacity: count) { out, initialized in
                if count > 0 { UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<(4 * count)])) }
                initialized = count
            }
        case .f16, .bf16:
            let isF16 = self == .f16
            return [Float](unsafeUninitializedCapacity: count) { out, initialized in
                defer { initialized = count }
                guard count > 0 else { return }
                if Int(bitPattern: raw.baseAddress!) % MemoryLayout<UInt16>.alignment == 0 {
                    let halves = UnsafeBufferPointer(start: raw.baseAddress!.bindMemory(to: UInt16.self, capacity: count), count: count)
                    if isF16 { HalfFloat.convertF16ToFloat(halves, into: out) } else { HalfFloat.convertBF16ToFloat(halves, into: out) }
                } else {
                    // Only hand-made files place 16-bit data at an odd offset; no need to be fast.
                    for i in 0..<count { out[i] = floatElement(raw, i) }
                }
            }
        case .f64:
            return [Float](unsafeUninitializedCapacity: count) { out, initialized in
                for i in 0..<count { out[i] = floatElement(raw, i) }
                initialized = count
            }
        default:
            return nil
        }
    }

    /// Element `i` of a floating-point array at `raw`, as Float32 (unaligned reads allowed).
    func floatElement(_ raw: UnsafeRawBufferPointer, _ i: Int) -> Float {
        switch self {
        case .f32: raw.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)
        case .f16: HalfFloat.floatFromF16(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
        case .bf16: HalfFloat.floatFromBF16(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
        case .f64: Float(raw.loadUnaligned(fromByteOffset: 8 * i, as: Double.self))
        default: .nan
        }
    }

    public var isFloatingPoint: Bool { [.f32, .f16, .bf16, .f64].contains(self) }
}
