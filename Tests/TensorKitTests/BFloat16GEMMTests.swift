import Testing
@testable import TensorKit

/// The bf16 GEMM against a float64 reference computed from independently rounded inputs.
@Suite struct BFloat16GEMMTests {
    /// Round-to-nearest-even to bf16, written independently of the C kernel: pick the nearer of the
    /// two truncations around x, ties to the even one.
    static func roundedToBF16(_ x: Float) -> Float {
        let down = Float(bitPattern: x.bitPattern & 0xFFFF_0000)
        let up = Float(bitPattern: (x.bitPattern & 0xFFFF_0000) &+ 0x1_0000)
        let dDown = abs(Double(x) - Double(down)), dUp = abs(Double(x) - Double(up))
        if dDown != dUp { return dDown < dUp ? down : up }
        return (down.bitPattern >> 16) & 1 == 0 ? down : up
    }

    @Test func roundingIsNearestEven() {
        // 1 + 2⁻⁸ lies halfway between bf16 1 and 1 + 2⁻⁷: ties go to the even mantissa (1).
        #expect(BFloat16GEMM.bits(1 + 0x1p-8) == 0x3F80)
        // 1 + 3·2⁻⁸ lies halfway between 1 + 2⁻⁷ (odd) and 1 + 2·2⁻⁷ (even).
        #expect(BFloat16GEMM.bits(1 + 3 * 0x1p-8) == 0x3F82)
        #expect(BFloat16GEMM.bits(1 + 0x1p-8 + 0x1p-20) == 0x3F81)   // just above half: up
        #expect(BFloat16GEMM.bits(-0.0) == 0x8000)
        #expect(BFloat16GEMM.bits(.greatestFiniteMagnitude) == 0x7F80) // rounds to +inf
        #expect(Float(bitPattern: UInt32(BFloat16GEMM.bits(.nan)) << 16).isNaN)
        var rng = RandomGenerator(seed: 3)
        for _ in 0..<10_000 {
            // Finite normal floats whose bf16 neighbours are finite too: exponent field 1...253.
            let r = UInt32(truncatingIfNeeded: rng.next())
            let x = Float(bitPattern: (r & 0x807F_FFFF) | ((1 + (r >> 8) % 253) << 23))
            #expect(UInt32(BFloat16GEMM.bits(x)) << 16 == Self.roundedToBF16(x).bitPattern)
        }
    }

    /// Shapes cover a single element, row tails (not multiples of 14), column tails (not multiples
    /// of 32), odd input widths and inputs longer than one 768-wide pass over C.
    @Test(arguments: [(1, 1, 1), (15, 33, 7), (29, 64, 770), (30, 31, 1537), (197, 96, 64)])
    func matchesFloat64Reference(_ shape: (Int, Int, Int)) throws {
        let (m, n, k) = shape
        var rng = RandomGenerator(seed: UInt64(m * 1000 + n))
        let a = Tensor.normal(shape: [m, k], mean: 0, std: 1, using: &rng)
        let w = Tensor.normal(shape: [n, k], mean: 0, std: 1, using: &rng)
        let bias = Tensor.normal(shape: [n], mean: 0, std: 1, using: &rng)
        let start = Tensor.normal(shape: [m, n], mean: 0, std: 1, using: &rng)
        let packed = try BFloat16Weights(w)
        let ra = a.storage.map(Self.roundedToBF16), rw = w.storage.map(Self.roundedToBF16)

        for (accumulate, withBias, portable) in [(false, false, false), (true, false, false), (false, true, false),
                                                 (true, true, false), (true, true, true), (false, false, true)] {
            do {
                var c = start.storage
                var rows = [UInt16](repeating: 0xFFFF, count: m * BFloat16GEMM.rowStride(k))
                a.storage.withUnsafeBufferPointer { ap in
                    rows.withUnsafeMutableBufferPointer { BFloat16GEMM.convertRows(ap.baseAddress!, rows: m, width: k, lda: k, into: $0.baseAddress!) }
                }
                rows.withUnsafeBufferPointer { rp in
                    bias.storage.withUnsafeBufferPointer { bp in
                        c.withUnsafeMutableBufferPointer {
                            packed.multiply(rp.baseAddress!, rows: m, bias: withBias ? bp.baseAddress : nil,
                                            accumulate: accumulate, into: $0.baseAddress!, ldc: n, portable: portable)
                        }
                    }
                }
                var worst = 0.0
                for i in 0..<m {
                    for j in 0..<n {
                        var ref = 0.0, magnitude = 0.0
                        for p in 0..<k {
                            let t = Double(ra[i * k + p]) * Double(rw[j * k + p])
                            ref += t; magnitude += abs(t)
                        }
                        if withBias { ref += Double(bias.storage[j]); magnitude += abs(Double(bias.storage[j])) }
                        if accumulate { ref += Double(start.storage[i * n + j]); magnitude += abs(Double(start.storage[i * n + j])) }
                        // fp32 summation: error ≤ (terms) · 2⁻²⁴ · Σ|terms|; allow that bound.
                        let bound = Double(k + 2) * 0x1p-24 * magnitude + 1e-30
                        worst = max(worst, abs(Double(c[i * n + j]) - ref) / bound)
                    }
                }
                #expect(worst <= 1, "m=\(m) n=\(n) k=\(k) accumulate=\(accumulate) bias=\(withBias) portable=\(portable): error/bound \(worst)")
            }
        }
    }

    @Test func linearMatchesFP32WithinBF16Rounding() throws {
        var rng = RandomGenerator(seed: 9)
        let x = Tensor.normal(shape: [2, 5, 64], mean: 0, std: 1, using: &rng)
        let w = Tensor.normal(shape: [40, 64], mean: 0, std: 0.1, using: &rng)
        let b = Tensor.normal(shape: [40], mean: 0, std: 0.1, using: &rng)
        let fp32 = try Tensor.linear(x, weight: w, bias: b)
        let bf16 = try Tensor.linear(x, weight: .bf16(try BFloat16Weights(w)), bias: b)
        #expect(bf16.shape == [2, 5, 40])
        // Two roundings of relative size 2⁻⁹ per product: the outputs differ, but only that much.
        let diff = try #require(fp32.maxAbsDifference(bf16))
        #expect(diff > 0 && diff < 0.05)
        #expect(throws: TensorError.self) { try Tensor.linear(x, weight: .bf16(try BFloat16Weights(w.transposed())), bias: b) }
    }

    /// The bf16 attention core of the image tower against the fp32 one, on token counts that leave panel and pair
    /// tails (17, 50 = ViT-B/32, 197 = ViT-B/16) and a head width that is not a multiple of 32.
    @Test(arguments: [(17, 64, 2), (50, 768, 12), (197, 768, 12), (33, 120, 3)])
    func attentionMatchesFP32(_ shape: (Int, Int, Int)) throws {
        let (t, w, heads) = shape
        var rng = RandomGenerator(seed: UInt64(t * 31 + w))
        let qkv = Tensor.normal(shape: [t, 3 * w], mean: 0, std: 1, using: &rng).storage
        var fp32 = [Float](repeating: 0, count: t * w), bf16 = [Float](repeating: .nan, count: t * w)
        var scores = [Float](repeating: 0, count: t * t)
        var scratch = [UInt16](repeating: 0xFFFF, count: BFloat16GEMM.attentionScratchCount(tokens: t, headDim: w / heads))
        qkv.withUnsafeBufferPointer { q in
            scores.withUnsafeMutableBufferPointer { s in
                fp32.withUnsafeMutableBufferPointer {
                    Tensor.selfAttention(packedQKV: q.baseAddress!, tokens: t, width: w, heads: heads, scratch: s.baseAddress!,
                                         into: $0.baseAddress!, ldo: w)
                }
                scratch.withUnsafeMutableBufferPointer { sc in
                    bf16.withUnsafeMutableBufferPointer {
                        BFloat16GEMM.selfAttention(packedQKV: q.baseAddress!, tokens: t, width: w, heads: heads, scores: s.baseAddress!,
                                                   scratch: sc.baseAddress!, into: $0.baseAddress!, ldo: w)
                    }
                }
            }
        }
        // Outputs are convex combinations of N(0, 1) values; bf16 rounding of Q, K, P and V moves them by ~1e-3.
        let worst = zip(fp32, bf16).map { abs($0 - $1) }.max() ?? .nan
        #expect(worst < 0.01, "tokens \(t), width \(w), heads \(heads): max difference \(worst)")
        #expect(worst > 0, "the bf16 path must not be the fp32 one")
    }
}
