import TensorKit

/// The number format of the image tower's matmuls.
///
/// - `f32`: fp32 weights and activations through BLAS (the reference path).
/// - `bf16`: weights and matmul inputs rounded to bfloat16, products summed in fp32 (AVX-512 BF16);
///   LayerNorm, softmax, activations and residuals stay fp32. About twice the GEMM throughput;
///   embeddings agree with fp32 to a cosine above 0.999 (tested).
/// - `int8`: weights quantized per output channel (symmetric int8), matmul inputs per row (uint8 with a zero
///   point), exact int32 sums (AVX-512 VNNI), dequantized in fp32; the rest as in bf16.
public enum ComputeDType: String, Sendable, Codable, CaseIterable {
    case f32
    case bf16
    case int8

    public init(parsing text: String) throws(CLIPError) {
        guard let d = ComputeDType(rawValue: text.lowercased()) else {
            throw .invalidInput("--dtype '\(text)' is not one of \(ComputeDType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = d
    }
}
