import Testing
@testable import TensorKit

/// The int8 GEMM against an exact integer reference, its quantizers against hand-computed values, and the
/// VNNI kernel against the portable one bit for bit.
@Suite struct Int8GEMMTests {
    /// The activation layout CKernels.h documents: 14-row groups, per group and input quad the rows' 4 bytes.
    static let groupRows = 14
    static func packedIndex(row r: Int, input i: Int, width k: Int) -> Int {
        let quads = (k + 3) / 4
        return (r / groupRows) * quads * groupRows * 4 + (i / 4) * groupRows * 4 + (r % groupRows) * 4 + i % 4
    }
    static func packActivations(_ a: [UInt8], rows m: Int, width k: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: (m + groupRows - 1) / groupRows * ((k + 3) / 4) * groupRows * 4)
        for r in 0..<m { for i in 0..<k { out[packedIndex(row: r, input: i, width: k)] = a[r * k + i] } }
        return out
    }

    struct Quantized { var q: [UInt8]; var scales: [Float]; var zeros: [Int32] }

    static func quantize(_ a: [Float], rows m: Int, width k: Int, portable: Bool) -> Quantized {
        var out = Quantized(q: [UInt8](repeating: 0xAB, count: (m + groupRows - 1) / groupRows * ((k + 3) / 4) * groupRows * 4),
                            scales: [Float](repeating: -1, count: m), zeros: [Int32](repeating: -1, count: m))
        a.withUnsafeBufferPointer { ap in
            out.q.withUnsafeMutableBufferPointer { q in
                out.scales.withUnsafeMutableBufferPointer { s in
                    out.zeros.withUnsafeMutableBufferPointer { z in
                        Int8GEMM.quantizeRows(ap.baseAddress!, rows: m, width: k, lda: k, into: q.baseAddress!, scales: s.baseAddress!,
                                              zeros: z.baseAddress!, portable: portable)
                    }
                }
            }
        }
        return out
    }

    @Test func weightScalesAndValuesAreTheHandComputedOnes() throws {
        // Row 0: max |w| = 1.27 → scale 0.01; 0.5 → 50, −1.27 → −127, 0.127 → 12.7 → 13. Row 1 is all zero.
        let w = Tensor(unchecked: [2, 4], storage: [0.5, -1.27, 0.127, 0, 0, 0, 0, 0])
        let packed = try Int8Weights(w)
        #expect(packed.scales == [Float(1.27) / 127, 0])
        #expect(abs(packed.scales[0] - 0.01) < 1e-9)
        // Multiplying unit inputs e_i reads the quantized weights back: column c of row i is q[c, i] · scale_c.
        let eye = Tensor(unchecked: [4, 4], storage: (0..<16).map { $0 % 5 == 0 ? 1 : 0 })
        let out = try Tensor.linear(eye, weight: .int8(packed), bias: nil)
        let q = (0..<4).map { (out.storage[$0 * 2] / packed.scales[0]).rounded() }
        #expect(q == [50, -127, 13, 0])
        #expect((0..<4).allSatisfy { out.storage[$0 * 2 + 1] == 0 })
    }

    @Test(arguments: [false, true])
    func activationScalesZeroPointsAndBytesAreTheHandComputedOnes(_ portable: Bool) {
        // Row 0: [lo, hi] = [−1, 2] → scale 3/255, zero rint(85) = 85; −1 → 0, 0 → 85, 0.25 → rint(21.25) + 85 = 106,
        // 2 → 255. Row 1: all positive, lo widened to 0 → zero 0, scale 4/255; 1 → rint(63.75) = 64, 3 → rint(191.25) = 191.
        // Row 2: all zero → scale 0, zero 0, bytes 0.
        let a: [Float] = [-1, 0, 0.25, 2, 1, 3, 4, 4, 0, 0, 0, 0]
        let r = Self.quantize(a, rows: 3, width: 4, portable: portable)
        #expect(r.scales == [Float(3) / 255, Float(4) / 255, 0])
        #expect(r.zeros == [85, 0, 0])
        let bytes = (0..<3).map { row in (0..<4).map { r.q[Self.packedIndex(row: row, input: $0, width: 4)] } }
        #expect(bytes == [[0, 85, 106, 255], [64, 191, 255, 255], [0, 0, 0, 0]])
        // Group rows past m and the pad past k are zero.
        let used = Set((0..<3).flatMap { row in (0..<4).map { Self.packedIndex(row: row, input: $0, width: 4) } })
        #expect(r.q.indices.filter { !used.contains($0) }.allSatisfy { r.q[$0] == 0 })
    }

    @Test(arguments: [(1, 1), (3, 7), (14, 17), (15, 768), (29, 770), (30, 3072)])
    func quantizerMatchesThePortableOneBitForBit(_ shape: (Int, Int)) {
        let (m, k) = shape
        var rng = RandomGenerator(seed: UInt64(m * 7919 + k))
        var a = Tensor.normal(shape: [m, k], mean: 0.3, std: 2, using: &rng).storage
        if m > 2 { for i in 0..<k { a[2 * k + i] = abs(a[2 * k + i]) } }   // a row without negatives
        let fast = Self.quantize(a, rows: m, width: k, portable: false), slow = Self.quantize(a, rows: m, width: k, portable: true)
        #expect(fast.q == slow.q)
        #expect(fast.scales.map(\.bitPattern) == slow.scales.map(\.bitPattern))
        #expect(fast.zeros == slow.zeros)
        // Dequantized values are within half a step of the inputs.
        for r in 0..<m {
            for i in 0..<k {
                let x = Float(Int32(slow.q[Self.packedIndex(row: r, input: i, width: k)]) - slow.zeros[r]) * slow.scales[r]
                #expect(abs(x - a[r * k + i]) <= 0.5001 * slow.scales[r] + 1e-6)
            }
        }
    }

    /// Shapes cover a single element, row tails (not multiples of 14), column tails (not multiples of 32),
    /// odd and non-multiple-of-4 input widths, and ViT widths.
    @Test(arguments: [(1, 1, 1), (15, 33, 7), (29, 64, 770), (30, 31, 1537), (197, 96, 64), (57, 65, 3073)])
    func matchesAnExactIntegerReference(_ shape: (Int, Int, Int)) throws {
        let (m, n, k) = shape
        var rng = RandomGenerator(seed: UInt64(m * 1000 + n * 10 + k))
        func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(rng.next() % UInt64(range.count)) }
        let a = (0..<m * k).map { _ in UInt8(int(0...255)) }
        let q = (0..<n * k).map { _ in Int8(int(-127...127)) }
        let zeros = (0..<m).map { _ in Int32(int(0...255)) }
        let ascale = (0..<m).map { _ in Float(int(1...1000)) / 512 }, wscale = (0..<n).map { _ in Float(int(1...1000)) / 4096 }
        let bias = (0..<n).map { _ in Float(int(-1000...1000)) / 64 }
        let start = (0..<m * n).map { _ in Float(int(-1000...1000)) / 16 }
        let weights = Int8Weights(quantized: q, scales: wscale, outFeatures: n, inFeatures: k)
        let packed = Self.packActivations(a, rows: m, width: k)

        // Σ a·q − zero·Σq in Int64, then the store's float operations written out in Swift.
        var exact = [Int64](repeating: 0, count: m * n)
        for r in 0..<m {
            for c in 0..<n {
                var s: Int64 = 0, colsum: Int64 = 0
                for i in 0..<k { s += Int64(a[r * k + i]) * Int64(q[c * k + i]); colsum += Int64(q[c * k + i]) }
                exact[r * n + c] = s - Int64(zeros[r]) * colsum
            }
        }
        for (accumulate, withBias, portable) in [(false, false, false), (true, false, false), (false, true, false),
                                                 (true, true, false), (true, true, true), (false, false, true)] {
            var c = start
            packed.withUnsafeBufferPointer { ap in
                ascale.withUnsafeBufferPointer { sp in
                    zeros.withUnsafeBufferPointer { zp in
                        bias.withUnsafeBufferPointer { bp in
                            c.withUnsafeMutableBufferPointer {
                                weights.multiply(quantized: ap.baseAddress!, scales: sp.baseAddress!, zeros: zp.baseAddress!, rows: m,
                                                 bias: withBias ? bp.baseAddress : nil, accumulate: accumulate,
                                                 into: $0.baseAddress!, ldc: n, portable: portable)
                            }
                        }
                    }
                }
            }
            var mismatches = 0
            for r in 0..<m {
                for col in 0..<n {
                    let v = (withBias ? bias[col] : 0).addingProduct(Float(exact[r * n + col]), ascale[r] * wscale[col])
                    let expected = accumulate ? v + start[r * n + col] : v
                    if c[r * n + col].bitPattern != expected.bitPattern { mismatches += 1 }
                }
            }
            #expect(mismatches == 0, "m=\(m) n=\(n) k=\(k) accumulate=\(accumulate) bias=\(withBias) portable=\(portable): \(mismatches) outputs differ")
        }
    }

    @Test func linearStaysCloseToFP32() throws {
        var rng = RandomGenerator(seed: 9)
        let x = Tensor.normal(shape: [2, 5, 64], mean: 0, std: 1, using: &rng)
        let w = Tensor.normal(shape: [40, 64], mean: 0, std: 0.1, using: &rng)
        let b = Tensor.normal(shape: [40], mean: 0, std: 0.1, using: &rng)
        let fp32 = try Tensor.linear(x, weight: w, bias: b)
        let int8 = try Tensor.linear(x, weight: .int8(try Int8Weights(w)), bias: b)
        #expect(int8.shape == [2, 5, 40])
        // Steps of 1/255 of a row's range and 1/127 of a channel's: outputs of size ≈ 0.8 move by a few 1e-2 at most.
        let diff = try #require(fp32.maxAbsDifference(int8))
        #expect(diff > 0 && diff < 0.05, "\(diff)")
        #expect(throws: TensorError.self) { try Tensor.linear(x, weight: .int8(try Int8Weights(w.transposed())), bias: b) }
    }
}
