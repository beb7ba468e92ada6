import Testing
@testable import TensorKit

@Suite struct HalfFloatTests {
    // MARK: F16

    @Test func f16KnownValues() {
        #expect(HalfFloat.floatFromF16(0x3C00) == 1.0)
        #expect(HalfFloat.floatFromF16(0xC000) == -2.0)
        #expect(HalfFloat.floatFromF16(0x7BFF) == 65504)
        #expect(HalfFloat.floatFromF16(0x0001) == 0x1p-24)          // smallest subnormal
        #expect(HalfFloat.floatFromF16(0x03FF) == 1023 * 0x1p-24)   // largest subnormal
        #expect(HalfFloat.floatFromF16(0x0400) == 0x1p-14)          // smallest normal
        #expect(HalfFloat.floatFromF16(0x7C00) == .infinity)
        #expect(HalfFloat.floatFromF16(0xFC00) == -.infinity)
        #expect(HalfFloat.floatFromF16(0x3555) == 0.333251953125)
        #expect(HalfFloat.floatFromF16(0x8000).bitPattern == 0x8000_0000) // -0
        #expect(HalfFloat.floatFromF16(0x7E00).isNaN)

        #expect(HalfFloat.f16FromFloat(1.0) == 0x3C00)
        #expect(HalfFloat.f16FromFloat(-2.0) == 0xC000)
        #expect(HalfFloat.f16FromFloat(65504) == 0x7BFF)
        #expect(HalfFloat.f16FromFloat(0x1p-24) == 0x0001)
        #expect(HalfFloat.f16FromFloat(.infinity) == 0x7C00)
        #expect(HalfFloat.f16FromFloat(-.infinity) == 0xFC00)
        #expect(HalfFloat.f16FromFloat(-0.0) == 0x8000)
        #expect(HalfFloat.f16FromFloat(.nan) & 0x7C00 == 0x7C00)
        #expect(HalfFloat.f16FromFloat(.nan) & 0x03FF != 0)
    }

    @Test func f16RoundingAndOverflow() {
        // 65504 + 16 = 65520 is the midpoint between the largest finite (65504) and 65536 (Inf): ties
        // to even → Inf. Just below it rounds down to 65504.
        #expect(HalfFloat.f16FromFloat(65519.996) == 0x7BFF)
        #expect(HalfFloat.f16FromFloat(65520) == 0x7C00)
        #expect(HalfFloat.f16FromFloat(1e10) == 0x7C00)
        #expect(HalfFloat.f16FromFloat(-1e10) == 0xFC00)
        // 1 + 2^-11 is halfway between 1 (even mantissa 0) and 1 + 2^-10 → 1.
        #expect(HalfFloat.f16FromFloat(1 + 0x1p-11) == 0x3C00)
        // 1 + 3·2^-11 is halfway between 1 + 2^-10 (odd) and 1 + 2^-9 (even) → up.
        #expect(HalfFloat.f16FromFloat(1 + 3 * 0x1p-11) == 0x3C02)
        // Just above a tie rounds up.
        #expect(HalfFloat.f16FromFloat((1 + 0x1p-11).nextUp) == 0x3C01)
        // Subnormal ties: 2^-25 is halfway between 0 and 2^-24 → 0 (even); 3·2^-25 → 2·2^-24.
        #expect(HalfFloat.f16FromFloat(0x1p-25) == 0x0000)
        #expect(HalfFloat.f16FromFloat(Float(0x1p-25).nextUp) == 0x0001)
        #expect(HalfFloat.f16FromFloat(3 * 0x1p-25) == 0x0002)
        #expect(HalfFloat.f16FromFloat(-3 * 0x1p-25) == 0x8002)
        // Largest subnormal + half an ulp rounds up into the smallest normal.
        #expect(HalfFloat.f16FromFloat(1023.5 * 0x1p-24) == 0x0400)
        // Float subnormals underflow to zero.
        #expect(HalfFloat.f16FromFloat(.leastNonzeroMagnitude) == 0x0000)
    }

    /// Every one of the 65,536 F16 bit patterns survives F16 → F32 → F16 unchanged, NaNs included
    /// (sign, quiet/signalling bit and payload).
    @Test func f16ExhaustiveRoundTrip() {
        var mismatches: [UInt16] = []
        for bits in 0...UInt16.max {
            let f = HalfFloat.floatFromF16(bits)
            let isNaN16 = (bits & 0x7C00) == 0x7C00 && (bits & 0x03FF) != 0
            if f.isNaN != isNaN16 { mismatches.append(bits); continue }
            if HalfFloat.f16FromFloat(f) != bits { mismatches.append(bits) }
        }
        #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(5))")
    }

    /// The bulk converters agree with the scalar functions on all bit patterns.
    @Test func f16BulkMatchesScalar() {
        let all = (0...UInt16.max).map { $0 }
        var floats = [Float](repeating: 0, count: all.count)
        all.withUnsafeBufferPointer { src in
            floats.withUnsafeMutableBufferPointer { HalfFloat.convertF16ToFloat(src, into: $0) }
        }
        var back = [UInt16](repeating: 0, count: all.count)
        floats.withUnsafeBufferPointer { src in
            back.withUnsafeMutableBufferPointer { HalfFloat.convertFloatToF16(src, into: $0) }
        }
        #expect(zip(all, floats).allSatisfy { HalfFloat.floatFromF16($0).bitPattern == $1.bitPattern })
        #expect(back == all)
    }

    #if !(os(macOS) && arch(x86_64))
    /// Cross-check against the platform's `Float16` (test-only oracle; the library does not use it).
    @Test func f16AgreesWithSwiftFloat16() {
        for bits in 0...UInt16.max {
            let h = Float16(bitPattern: bits)
            if h.isNaN { continue }
            #expect(HalfFloat.floatFromF16(bits) == Float(h), "bits \(bits)")
        }
        var rng = RandomGenerator(seed: 7)
        for _ in 0..<200_000 {
            // Random Float32 bit patterns cover every exponent, including the F16 subnormal range.
            let f = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
            if f.isNaN { continue }
            #expect(HalfFloat.f16FromFloat(f) == Float16(f).bitPattern, "value \(f)")
        }
        for _ in 0..<200_000 {
            // And values concentrated around the F16 range.
            let f = Float(rng.normal(mean: 0, std: 1)) * Float(1 << rng.int(below: 20)) * 0x1p-16
            #expect(HalfFloat.f16FromFloat(f) == Float16(f).bitPattern, "value \(f)")
        }
    }
    #endif

    // MARK: BF16

    @Test func bf16KnownValues() {
        #expect(HalfFloat.floatFromBF16(0x3F80) == 1.0)
        #expect(HalfFloat.floatFromBF16(0xC000) == -2.0)
        #expect(HalfFloat.floatFromBF16(0x7F80) == .infinity)
        #expect(HalfFloat.floatFromBF16(0x0001) == Float(bitPattern: 0x0001_0000))
        #expect(HalfFloat.bf16FromFloat(1.0) == 0x3F80)
        #expect(HalfFloat.bf16FromFloat(-2.0) == 0xC000)
        #expect(HalfFloat.bf16FromFloat(.infinity) == 0x7F80)
        #expect(HalfFloat.bf16FromFloat(-.infinity) == 0xFF80)
    }

    @Test func bf16RoundsToNearestEven() {
        // Bit patterns: the low 16 bits decide. 0x8000 is an exact tie.
        #expect(HalfFloat.bf16FromFloat(Float(bitPattern: 0x3F80_8000)) == 0x3F80) // tie, kept bit even → down
        #expect(HalfFloat.bf16FromFloat(Float(bitPattern: 0x3F81_8000)) == 0x3F82) // tie, kept bit odd → up
        #expect(HalfFloat.bf16FromFloat(Float(bitPattern: 0x3F80_8001)) == 0x3F81) // above tie → up
        #expect(HalfFloat.bf16FromFloat(Float(bitPattern: 0x3F80_7FFF)) == 0x3F80) // below tie → down
        #expect(HalfFloat.bf16FromFloat(Float(bitPattern: 0xBF81_8000)) == 0xBF82) // negative tie, odd → away
        #expect(HalfFloat.bf16FromFloat(Float(bitPattern: 0x3FFF_8000)) == 0x4000) // carry into the exponent
        #expect(HalfFloat.bf16FromFloat(Float(bitPattern: 0x7F7F_8000)) == 0x7F80) // largest finite tie → Inf
        #expect(HalfFloat.bf16FromFloat(Float(bitPattern: 0x7F7F_7FFF)) == 0x7F7F)
        #expect(HalfFloat.bf16FromFloat(Float(bitPattern: 0x0000_8000)) == 0x0000) // subnormal tie → 0
        #expect(HalfFloat.bf16FromFloat(Float(bitPattern: 0x0001_8000)) == 0x0002)
    }

    @Test func bf16PreservesNaN() {
        // A NaN whose payload sits only in the low 16 bits must not turn into Inf.
        let lowPayloadNaN = Float(bitPattern: 0x7F80_0001)
        let r = HalfFloat.bf16FromFloat(lowPayloadNaN)
        #expect(HalfFloat.floatFromBF16(r).isNaN)
        #expect(HalfFloat.bf16FromFloat(Float(bitPattern: 0xFFC0_0000)) == 0xFFC0) // -qNaN keeps sign
        #expect(HalfFloat.bf16FromFloat(Float(bitPattern: 0x7FC1_2345)) == 0x7FC1) // payload top bits kept
        // Round trip of every BF16 pattern (NaNs are quieted, so compare those as NaN).
        for bits in 0...UInt16.max {
            let f = HalfFloat.floatFromBF16(bits)
            let back = HalfFloat.bf16FromFloat(f)
            if f.isNaN {
                #expect(HalfFloat.floatFromBF16(back).isNaN && back & 0x8000 == bits & 0x8000)
            } else {
                #expect(back == bits)
            }
        }
    }

    @Test func bf16BulkMatchesScalar() {
        var rng = RandomGenerator(seed: 11)
        let values = (0..<10_000).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
        var halves = [UInt16](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { src in
            halves.withUnsafeMutableBufferPointer { HalfFloat.convertFloatToBF16(src, into: $0) }
        }
        #expect(zip(values, halves).allSatisfy { HalfFloat.bf16FromFloat($0) == $1 })
        var widened = [Float](repeating: 0, count: values.count)
        halves.withUnsafeBufferPointer { src in
            widened.withUnsafeMutableBufferPointer { HalfFloat.convertBF16ToFloat(src, into: $0) }
        }
        #expect(zip(halves, widened).allSatisfy { HalfFloat.floatFromBF16($0).bitPattern == $1.bitPattern })
    }
}
