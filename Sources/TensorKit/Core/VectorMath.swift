// Vectorised element-wise math on SIMD16<Float>.
//
// These run on every softmax, LayerNorm, GELU and sigmoid of the encoders, so they must not be
// scalar glibc loops (about 13 M expf calls per ViT-B/16 image). The package compiles with a
// target CPU that has AVX2 + FMA, where SIMD16 maps to two 8-wide registers.

public typealias Vec16 = SIMD16<Float>

/// exp(x) for a vector, Cephes-style: x = n·ln2 + r, |r| ≤ ln2/2, e^r by a degree-6 polynomial,
/// 2^n by building the float exponent. Relative error ≤ 2 ulp on [-87.3, 88.7]; NaN gives NaN; inputs below
/// that range return the smallest normal float (callers that need exact zeros, such as masked
/// softmax entries, write them explicitly).
@inline(__always)
public func vexp(_ x: Vec16) -> Vec16 {
    let hi = Vec16(repeating: 88.3762626647949)
    let lo = Vec16(repeating: -87.3365447504)
    var v = x.replacing(with: hi, where: x .> hi).replacing(with: lo, where: x .< lo)
    let n = (v * 1.44269504088896341).rounded(.toNearestOrEven)
    v = v - n * 0.693359375
    v = v + n * 2.12194440e-4
    let v2 = v * v
    var p = Vec16(repeating: 1.9875691500e-4)
    p = p * v + 1.3981999507e-3
    p = p * v + 8.3334519073e-3
    p = p * v + 4.1665795894e-2
    p = p * v + 1.6666665459e-1
    p = p * v + 5.0000001201e-1
    p = p * v2 + v + 1
    // 2^n: adding 1.5·2^23 puts the integer n (|n| ≤ 128) in the low mantissa bits, so the
    // float-to-int conversion is a bit cast (Swift's SIMD Float→Int32 init is a scalar loop, and
    // traps on NaN; here a NaN lane just yields NaN through p).
    let biased = unsafeBitCast(n + 12_582_912, to: SIMD16<Int32>.self) &- 0x4B40_0000
    let bits = (biased &+ 127) &<< 23
    return p * unsafeBitCast(bits, to: Vec16.self)
}

/// Scalar exp through the same polynomial, so vector bodies and scalar tails agree bit for bit.
@inline(__always)
public func vexp(_ x: Float) -> Float { vexp(Vec16(repeating: x))[0] }

/// Logistic sigmoid 1 / (1 + e^(−x)).
@inline(__always)
public func vsigmoid(_ x: Vec16) -> Vec16 { 1 / (1 + vexp(-x)) }

/// erf(x), Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7), with the exp vectorised.
@inline(__always)
public func verf(_ x: Vec16) -> Vec16 {
    let sign = Vec16(repeating: 1).replacing(with: -1, where: x .< 0)
    let a = x * sign
    let t = 1 / (1 + 0.3275911 * a)
    var y = Vec16(repeating: 1.061405429)
    y = y * t - 1.453152027
    y = y * t + 1.421413741
    y = y * t - 0.284496736
    y = y * t + 0.254829592
    y = y * t
    let e: Vec16 = vexp(-(a * a))
    return sign * (1 - y * e)
}

/// Applies a vector function to `count` floats, handling the tail by padding one vector.
@inline(__always)
func mapVectorised(
    _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int, _ f: (Vec16) -> Vec16
) {
    var i = 0
    while i + 16 <= count {
        let v = UnsafeRawPointer(src + i).loadUnaligned(as: Vec16.self)
        UnsafeMutableRawPointer(dst + i).storeBytes(of: f(v), as: Vec16.self)
        i += 16
    }
    if i < count {
        var v = Vec16()
        for j in 0..<(count - i) { v[j] = src[i + j] }
        let r = f(v)
        for j in 0..<(count - i) { dst[i + j] = r[j] }
    }
}

/// Two-input version of `mapVectorised`.
@inline(__always)
func zipVectorised(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int,
    _ f: (Vec16, Vec16) -> Vec16
) {
    var i = 0
    while i + 16 <= count {
        let x = UnsafeRawPointer(a + i).loadUnaligned(as: Vec16.self)
        let y = UnsafeRawPointer(b + i).loadUnaligned(as: Vec16.self)
        UnsafeMutableRawPointer(dst + i).storeBytes(of: f(x, y), as: Vec16.self)
        i += 16
    }
    if i < count {
        var x = Vec16(), y = Vec16()
        for j in 0..<(count - i) { x[j] = a[i + j]; y[j] = b[i + j] }
        let r = f(x, y)
        for j in 0..<(count - i) { dst[i + j] = r[j] }
    }
}

/// Σ x[i], accumulated in 16 lanes.
@inline(__always)
func vsum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
    var acc = Vec16()
    var i = 0
    while i + 16 <= count {
        acc += UnsafeRawPointer(x + i).loadUnaligned(as: Vec16.self)
        i += 16
    }
    var s = acc.sum()
    while i < count { s += x[i]; i += 1 }
    return s
}

/// Σ x[i]·y[i], accumulated in 16 lanes.
@inline(__always)
func vdot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ count: Int) -> Float {
    var acc = Vec16()
    var i = 0
    while i + 16 <= count {
        acc = acc.addingProduct(
            UnsafeRawPointer(x + i).loadUnaligned(as: Vec16.self),
            UnsafeRawPointer(y + i).loadUnaligned(as: Vec16.self))
        i += 16
    }
    var s = acc.sum()
    while i < count { s += x[i] * y[i]; i += 1 }
    return s
}

/// max x[i] over a non-empty row.
@inline(__always)
func vmax(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
    var i = 0
    var m = -Float.infinity
    if count >= 16 {
        var acc = UnsafeRawPointer(x).loadUnaligned(as: Vec16.self)
        i = 16
        while i + 16 <= count {
            // A compare and blend: the stdlib's pointwiseMax is a per-lane scalar loop (seen in perf).
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: Vec16.self)
            acc = acc.replacing(with: v, where: v .> acc)
            i += 16
        }
        m = acc.max()
    }
    while i < count { m = max(m, x[i]); i += 1 }
    return m
}
