import Foundation

/// Bit-exact re-implementation of Pillow's `Image.resize(size, Image.BICUBIC)` for 8-bit images
/// (Pillow `src/libImaging/Resample.c`, 8 bits per channel path):
///
/// - Keys cubic kernel with a = -0.5 and support 2, widened by `max(in/out, 1)` when downscaling
///   (antialiasing).
/// - Per-axis coefficients computed in double, normalised to sum 1, then converted to 22-bit fixed
///   point (each weight rounded half away from zero).
/// - Accumulation in 32-bit integers starting at 2^21, result `clamp(acc >> 22, 0, 255)`.
/// - Two passes with an 8-bit intermediate; a pass is skipped when its dimension is unchanged.
///   Pass order (see `ResizePassOrder`): Pillow <= 12 always runs the horizontal pass first (over only
///   the source rows the vertical pass reads); Pillow >= 13 runs the vertical pass first when the
///   height shrinks by more than twice as many pixels as the width (`dh > 0 && dh > 2 * dw`).
///
/// Channels are resampled independently (no premultiplication here: callers that need Pillow's
/// RGBA behaviour premultiply first, see `ImagePreprocessor`).
enum PillowResize {
    /// 32 - 8 - 2: 8 bits for the result, 2 bits of headroom for negative lobes / overshoot.
    static let precisionBits: Int32 = 22

    /// Fixed-point coefficients for one axis.
    struct Coefficients {
        let inSize: Int
        let outSize: Int
        /// Maximum taps per output sample (row stride of `weights`).
        let ksize: Int
        /// For output index i: first source index `bounds[2 i]`, tap count `bounds[2 i + 1]`.
        var bounds: [Int]
        /// `outSize * ksize` weights in 22-bit fixed point (unused taps are 0).
        let weights: [Int32]
    }

    @inline(__always)
    static func bicubicFilter(_ value: Double) -> Double {
        // Keys cubic convolution, a = -0.5; same expression shapes as Pillow for identical doubles.
        let a = -0.5
        let x = value < 0.0 ? -value : value
        if x < 1.0 {
            return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
        }
        if x < 2.0 {
            return (((x - 5) * x + 8) * x - 4) * a
        }
        return 0.0
    }

    /// Pillow `precompute_coeffs` (box = whole image) followed by `normalize_coeffs_8bpc`.
    static func coefficients(inSize: Int, outSize: Int) -> Coefficients {
        let supportRadius = 2.0  // BICUBIC support
        let scale = Double(inSize) / Double(outSize)
        let filterscale = scale < 1.0 ? 1.0 : scale
        let support = supportRadius * filterscale
        let ksize = Int(support.rounded(.up)) * 2 + 1
        var bounds = [Int](repeating: 0, count: outSize * 2)
        var weights = [Int32](repeating: 0, count: outSize * ksize)
        var k = [Double](repeating: 0, count: ksize)
        let ss = 1.0 / filterscale
        let one = Double(1 << Int(precisionBits))
        for xx in 0..<outSize {
            let center = 0.0 + (Double(xx) + 0.5) * scale
            var xmin = Int(center - support + 0.5)  // C (int) cast: truncation toward zero
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            var ww = 0.0
            for x in 0..<xmax {
                let w = bicubicFilter((Double(x + xmin) - center + 0.5) * ss)
                k[x] = w
                ww += w
            }
            let base = xx * ksize
            for x in 0..<xmax {
                let w = ww != 0.0 ? k[x] / ww : k[x]
                weights[base + x] = w < 0 ? Int32(-0.5 + w * one) : Int32(0.5 + w * one)
            }
            bounds[2 * xx] = xmin
            bounds[2 * xx + 1] = xmax
        }
        return Coefficients(inSize: inSize, outSize: outSize, ksize: ksize, bounds: bounds, weights: weights)
    }

    @inline(__always)
    static func clip8(_ acc: Int32) -> UInt8 {
        let v = acc >> precisionBits
        if v < 0 { return 0 }
        if v > 255 { return 255 }
        return UInt8(truncatingIfNeeded: v)
    }

    /// Whether Pillow runs the vertical pass first for this size change.
    static func verticalFirst(inWidth: Int, inHeight: Int, outWidth: Int, outHeight: Int,
                              order: ResizePassOrder) -> Bool {
        switch order {
        case .horizontalFirst:
            return false
        case .pillow13:
            let dh = inHeight - outHeight, dw = inWidth - outWidth
            return dh > 0 && dh > dw * 2
        }
    }

    /// Resize with Pillow BICUBIC semantics. `channels` of the image are processed independently.
    static func resize(_ image: Image8, width outWidth: Int, height outHeight: Int,
                       order: ResizePassOrder = .horizontalFirst) -> Image8 {
        precondition(outWidth > 0 && outHeight > 0)
        if outWidth == image.width && outHeight == image.height { return image }
        let channels = image.channels
        let needHorizontal = outWidth != image.width
        let needVertical = outHeight != image.height
        if needHorizontal && needVertical
            && verticalFirst(inWidth: image.width, inHeight: image.height, outWidth: outWidth,
                             outHeight: outHeight, order: order) {
            // Pillow >= 13: vertical pass over all columns, then horizontal pass over the result.
            let tall = resize(image, width: image.width, height: outHeight)
            return resize(tall, width: outWidth, height: outHeight)
        }

        var vertical = coefficients(inSize: image.height, outSize: outHeight)
        // Source rows actually read by the vertical pass.
        let yFirst = vertical.bounds[0]
        let yLast = vertical.bounds[2 * outHeight - 2] + vertical.bounds[2 * outHeight - 1]

        var current = image
        if needHorizontal {
            let horizontal = coefficients(inSize: image.width, outSize: outWidth)
            for i in 0..<outHeight { vertical.bounds[2 * i] -= yFirst }
            let rows = yLast - yFirst
            var temp = [UInt8](repeating: 0, count: rows * outWidth * channels)
            image.pixels.withUnsafeBufferPointer { src in
                temp.withUnsafeMutableBufferPointer { dst in
                    horizontalPass(src: src, srcWidth: image.width, channels: channels, firstRow: yFirst,
                                   rows: rows, coefficients: horizontal, dst: dst)
                }
            }
            current = Image8(uncheckedWidth: outWidth, height: rows, channels: channels, pixels: temp)
        }
        if needVertical {
            let rowBytes = current.width * channels
            var out = [UInt8](repeating: 0, count: outHeight * rowBytes)
            current.pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    verticalPass(src: src, rowBytes: rowBytes, coefficients: vertical, dst: dst)
                }
            }
            return Image8(uncheckedWidth: current.width, height: outHeight, channels: channels, pixels: out)
        }
        return current
    }

    /// Horizontal pass over source rows `firstRow ..< firstRow + rows`.
    static func horizontalPass(src: UnsafeBufferPointer<UInt8>, srcWidth: Int, channels: Int, firstRow: Int,
                               rows: Int, coefficients co: Coefficients, dst: UnsafeMutableBufferPointer<UInt8>) {
        guard rows > 0, let srcBase = src.baseAddress, let dstBase = dst.baseAddress else { return }
        let outWidth = co.outSize
        let ksize = co.ksize
        let half: Int32 = 1 << (precisionBits - 1)
        let srcRowBytes = srcWidth * channels
        let dstRowBytes = outWidth * channels
        co.bounds.withUnsafeBufferPointer { boundsBuffer in
            co.weights.withUnsafeBufferPointer { weightsBuffer in
                let bounds = boundsBuffer.baseAddress!
                let weights = weightsBuffer.baseAddress!
                for yy in 0..<rows {
                    let srow = srcBase + (yy + firstRow) * srcRowBytes
                    let drow = dstBase + yy * dstRowBytes
                    switch channels {
                    case 1:
                        for xx in 0..<outWidth {
                            let count = bounds[2 * xx + 1]
                            let k = weights + xx * ksize
                            let p = srow + bounds[2 * xx]
                            var s0 = half
                            for x in 0..<count {
                                s0 = s0 &+ Int32(truncatingIfNeeded: p[x]) &* k[x]
                            }
                            drow[xx] = clip8(s0)
                        }
                    case 3:
                        for xx in 0..<outWidth {
                            let count = bounds[2 * xx + 1]
                            let k = weights + xx * ksize
                            var p = srow + bounds[2 * xx] * 3
                            var s0 = half, s1 = half, s2 = half
                            for x in 0..<count {
                                let w = k[x]
                                s0 = s0 &+ Int32(truncatingIfNeeded: p[0]) &* w
                                s1 = s1 &+ Int32(truncatingIfNeeded: p[1]) &* w
                                s2 = s2 &+ Int32(truncatingIfNeeded: p[2]) &* w
                                p += 3
                            }
                            let d = drow + xx * 3
                            d[0] = clip8(s0); d[1] = clip8(s1); d[2] = clip8(s2)
                        }
                    case 4:
                        for xx in 0..<outWidth {
                            let count = bounds[2 * xx + 1]
                            let k = weights + xx * ksize
                            var p = srow + bounds[2 * xx] * 4
                            var s0 = half, s1 = half, s2 = half, s3 = half
                            for x in 0..<count {
                                let w = k[x]
                                s0 = s0 &+ Int32(truncatingIfNeeded: p[0]) &* w
                                s1 = s1 &+ Int32(truncatingIfNeeded: p[1]) &* w
                                s2 = s2 &+ Int32(truncatingIfNeeded: p[2]) &* w
                                s3 = s3 &+ Int32(truncatingIfNeeded: p[3]) &* w
                                p += 4
                            }
                            let d = drow + xx * 4
                            d[0] = clip8(s0); d[1] = clip8(s1); d[2] = clip8(s2); d[3] = clip8(s3)
                        }
                    default:
                        for xx in 0..<outWidth {
                            let count = bounds[2 * xx + 1]
                            let k = weights + xx * ksize
                            let p = srow + bounds[2 * xx] * channels
                            for c in 0..<channels {
                                var s = half
                                for x in 0..<count {
                                    s = s &+ Int32(truncatingIfNeeded: p[x * channels + c]) &* k[x]
                                }
                                drow[xx * channels + c] = clip8(s)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Vertical pass: every byte column is independent, so channels need no special casing.
    /// Accumulates one output row at a time in an Int32 row buffer, tap by tap (same sums as Pillow's
    /// per-pixel loop: integer addition is exact and order-independent), which vectorises well.
    static func verticalPass(src: UnsafeBufferPointer<UInt8>, rowBytes: Int, coefficients co: Coefficients,
                             dst: UnsafeMutableBufferPointer<UInt8>) {
        guard rowBytes > 0, let srcBase = src.baseAddress, let dstBase = dst.baseAddress else { return }
        let ksize = co.ksize
        let half: Int32 = 1 << (precisionBits - 1)
        let acc = UnsafeMutablePointer<Int32>.allocate(capacity: rowBytes)
        defer { acc.deallocate() }
        co.bounds.withUnsafeBufferPointer { bounds in
            co.weights.withUnsafeBufferPointer { weights in
                for yy in 0..<co.outSize {
                    let ymin = bounds[2 * yy], count = bounds[2 * yy + 1], kb = yy * ksize
                    acc.update(repeating: half, count: rowBytes)
                    for y in 0..<count {
                        let w = weights[kb + y]
                        let row = srcBase + (ymin + y) * rowBytes
                        for j in 0..<rowBytes {
                            acc[j] = acc[j] &+ Int32(truncatingIfNeeded: row[j]) &* w
                        }
                    }
                    let out = dstBase + yy * rowBytes
                    for j in 0..<rowBytes {
                        let v = acc[j] >> precisionBits
                        out[j] = UInt8(truncatingIfNeeded: v < 0 ? 0 : (v > 255 ? 255 : v))
                    }
                }
            }
        }
    }
}
