/// Conversions between Float32 and the two 16-bit float formats found in checkpoints, done on bit
/// patterns (`UInt16`) so they work where Swift's `Float16` is unavailable (macOS x86_64).
///
/// - bfloat16 (BF16): the top half of a Float32 (1 sign, 8 exponent, 7 mantissa bits).
/// - IEEE 754 binary16 (F16): 1 sign, 5 exponent (bias 15), 10 mantissa bits.
///
/// Narrowing conversions round to nearest, ties to even. NaNs stay NaNs with their sign and as much
/// of their payload as fits, so an F16 NaN survives F16 → F32 → F16 bit for bit.
///
/// The scalar functions are written without data-dependent branches (only selects) so that the bulk
/// loops below vectorise.
public enum HalfFloat {

    // MARK: - bfloat16

    /// BF16 bits → Float32. Exact: a BF16 is the high half of a Float32.
    @inlinable @inline(__always)
    public static func floatFromBF16(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) &<< 16)
    }

    /// Float32 → BF16 bits, rounding to nearest even. Finite values too large round to ±Inf;
    /// NaN keeps its sign and top payload bits and is forced quiet (so it cannot round into Inf).
    @inlinable @inline(__always)
    public static func bf16FromFloat(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        // Adding 0x7FFF plus the lowest kept bit rounds half to even; a carry out of the
        // mantissa correctly bumps the exponent (and reaches Inf at the top).
        let rounded = UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits &>> 16) & 1)) &>> 16)
        let quietNaN = UInt16(truncatingIfNeeded: bits &>> 16) | 0x0040
        let isNaN = (bits & 0x7FFF_FFFF) > 0x7F80_0000
        return isNaN ? quietNaN : rounded
    }

    // MARK: - IEEE binary16

    /// F16 bits → Float32. Exact for every input, including subnormals, ±0, ±Inf and NaN payloads.
    @inlinable @inline(__always)
    public static func floatFromF16(_ bits: UInt16) -> Float {
        let h = UInt32(bits)
        let sign = (h & 0x8000) &<< 16
        let exponent = h & 0x7C00
        let mantissa = h & 0x03FF
        // Normal numbers: rebias the exponent (15 → 127) and widen the mantissa.
        let normal = ((h & 0x7FFF) &<< 13) &+ (112 &<< 23)
        // Inf/NaN: all-ones exponent, payload shifted into place.
        let special = 0x7F80_0000 | (mantissa &<< 13)
        // Subnormals (and zero): value = mantissa · 2^-24, computed exactly in Float arithmetic.
        let subnormal = (Float(mantissa) * 0x1p-24).bitPattern
        let magnitude = exponent == 0x7C00 ? special : (exponent == 0 ? subnormal : normal)
        return Float(bitPattern: sign | magnitude)
    }

    /// Float32 → F16 bits, rounding to nearest even. Values at or above 65520 become ±Inf, values
    /// below the normal range become subnormals (or ±0). NaN keeps its sign and the top 10 payload
    /// bits; if those are all zero the quiet bit is set so the result is still a NaN.
    @inlinable @inline(__always)
    public static func f16FromFloat(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (bits &>> 16) & 0x8000)
        let abs = bits & 0x7FFF_FFFF

        // Normal range (|x| in [2^-14, 65520)): rebias exponent (127 → 15) and round away the low
        // 13 mantissa bits, half to even. A mantissa carry bumps the exponent, up to Inf at 65520.
        let lowestKept = (abs &>> 13) & 1
        let normal = UInt16(truncatingIfNeeded: (abs &- (112 &<< 23) &+ 0xFFF &+ lowestKept) &>> 13)

        // Subnormal range (|x| < 2^-14): adding 0.5 (2^-1) puts 2^-24 in the last mantissa place of
        // the sum, so the FPU's own round-to-nearest-even does the rounding; the low mantissa bits of
        // the sum are then the F16 subnormal mantissa (a result of 0x400 is the smallest normal).
        let subnormal = UInt16(truncatingIfNeeded: (Float(bitPattern: abs) + 0.5).bitPattern &- 0x3F00_0000)

        let nanPayload = UInt16(truncatingIfNeeded: (abs &>> 13) & 0x03FF)
        let nan = 0x7C00 | (nanPayload == 0 ? 0x0200 : nanPayload)

        let magnitude: UInt16
        if abs > 0x7F80_0000 {
            magnitude = nan
        } else if abs >= 0x477F_F000 {          // ≥ 65520 (the midpoint above 65504) or Inf
            magnitude = 0x7C00
        } else if abs < 0x3880_0000 {           // < 2^-14
            magnitude = subnormal
        } else {
            magnitude = normal
        }
        return sign | magnitude
    }

    // MARK: - Bulk conversion

    /// Converts BF16 bit patterns to Float32. `destination` must have at least `source.count` elements.
    @inlinable
    public static func convertBF16ToFloat(_ source: UnsafeBufferPointer<UInt16>,
                                          into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(destination.count >= source.count, "destination too small")
        guard let src = source.baseAddress, let dst = destination.baseAddress else { return }
        for i in 0..<source.count { dst[i] = floatFromBF16(src[i]) }
    }

    /// Converts Float32 values to BF16 bit patterns. `destination` must have at least `source.count` elements.
    @inlinable
    public static func convertFloatToBF16(_ source: UnsafeBufferPointer<Float>,
                                          into destination: UnsafeMutableBufferPointer<UInt16>) {
        precondition(destination.count >= source.count, "destination too small")
        guard let src = source.baseAddress, let dst = destination.baseAddress else { return }
        for i in 0..<source.count { dst[i] = bf16FromFloat(src[i]) }
    }

    /// Converts F16 bit patterns to Float32. `destination` must have at least `source.count` elements.
    @inlinable
    public static func convertF16ToFloat(_ source: UnsafeBufferPointer<UInt16>,
                                         into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(destination.count >= source.count, "destination too small")
        guard let src = source.baseAddress, let dst = destination.baseAddress else { return }
        for i in 0..<source.count { dst[i] = floatFromF16(src[i]) }
    }

    /// Converts Float32 values to F16 bit patterns. `destination` must have at least `source.count` elements.
    @inlinable
    public static func convertFloatToF16(_ source: UnsafeBufferPointer<Float>,
                                         into destination: UnsafeMutableBufferPointer<UInt16>) {
        precondition(destination.count >= source.count, "destination too small")
        guard let src = source.baseAddress, let dst = destination.baseAddress else { return }
        for i in 0..<source.count { dst[i] = f16FromFloat(src[i]) }
    }
}
