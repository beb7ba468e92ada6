import Foundation

/// How the centre-crop offset `(size - crop) / 2` is rounded when it is not an integer.
public enum CropRounding: String, Codable, Sendable {
    /// `int((H - h) / 2)`: Hugging Face `CLIPImageProcessor` (both backends).
    case floor
    /// Python `round((H - h) / 2)`: OpenAI `clip._transform`, torchvision `CenterCrop`.
    case halfToEven
}

/// What happens to an alpha channel (RGBA input).
public enum AlphaHandling: String, Codable, Sendable {
    /// OpenAI on a PIL RGBA image: Pillow resizes premultiplied (RGBA → RGBa → resize → RGBA), then
    /// `convert("RGB")` drops alpha without compositing.
    case premultipliedDrop
    /// Hugging Face `do_convert_rgb`: alpha-composite onto white (Pillow `alpha_composite`), then resize.
    case compositeWhite
    /// Drop alpha before resizing: what torchvision `ImageFolder` (`pil_loader` → `convert("RGB")`)
    /// feeds the OpenAI transform, e.g. in CLIP_benchmark.
    case dropBeforeResize
}

/// Order of Pillow's two resampling passes. The passes round to uint8 in between, so the order
/// changes results by a few LSB; Pillow changed it in version 13 (python-pillow/Pillow#9549).
public enum ResizePassOrder: String, Codable, Sendable {
    /// Pillow <= 12 (the versions behind published CLIP results): horizontal pass always first.
    case horizontalFirst
    /// Pillow >= 13: vertical pass first when the height shrinks by more than twice as many pixels as
    /// the width (`inH - outH > 0 && inH - outH > 2 * (inW - outW)`); with aspect-preserving resizes
    /// this only happens for downscaled images more than about twice as tall as wide.
    case pillow13
}

/// CLIP image preprocessing parameters.
public struct PreprocessConfig: Codable, Sendable, Equatable {
    /// Target length of the shorter side; the longer side becomes `int(n * long / short)`.
    public var resizeShortestEdge: Int
    public var cropHeight: Int
    public var cropWidth: Int
    /// Per-channel (R, G, B) mean and standard deviation, applied after rescaling.
    public var mean: [Float]
    public var std: [Float]
    public var cropRounding: CropRounding
    public var alpha: AlphaHandling
    /// Multiplier from uint8 to [0, 1] (1/255; exactly 1/255 uses float32 division by 255 as torch does).
    public var rescaleFactor: Float
    /// Which Pillow version's resampling pass order to reproduce (default: Pillow <= 12).
    public var resizePassOrder: ResizePassOrder

    public static let clipMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public static let clipStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

    public init(resizeShortestEdge: Int, cropHeight: Int, cropWidth: Int, mean: [Float] = PreprocessConfig.clipMean,
                std: [Float] = PreprocessConfig.clipStd, cropRounding: CropRounding, alpha: AlphaHandling,
                rescaleFactor: Float = Float(1.0 / 255.0), resizePassOrder: ResizePassOrder = .horizontalFirst) {
        self.resizeShortestEdge = resizeShortestEdge
        self.cropHeight = cropHeight
        self.cropWidth = cropWidth
        self.mean = mean
        self.std = std
        self.cropRounding = cropRounding
        self.alpha = alpha
        self.rescaleFactor = rescaleFactor
        self.resizePassOrder = resizePassOrder
    }

    private enum CodingKeys: String, CodingKey {
        case resizeShortestEdge, cropHeight, cropWidth, mean, std, cropRounding, alpha, rescaleFactor, resizePassOrder
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        resizeShortestEdge = try c.decode(Int.self, forKey: .resizeShortestEdge)
        cropHeight = try c.decode(Int.self, forKey: .cropHeight)
        cropWidth = try c.decode(Int.self, forKey: .cropWidth)
        mean = try c.decodeIfPresent([Float].self, forKey: .mean) ?? PreprocessConfig.clipMean
        std = try c.decodeIfPresent([Float].self, forKey: .std) ?? PreprocessConfig.clipStd
        cropRounding = try c.decode(CropRounding.self, forKey: .cropRounding)
        alpha = try c.decode(AlphaHandling.self, forKey: .alpha)
        rescaleFactor = try c.decodeIfPresent(Float.self, forKey: .rescaleFactor) ?? Float(1.0 / 255.0)
        resizePassOrder = try c.decodeIfPresent(ResizePassOrder.self, forKey: .resizePassOrder) ?? .horizontalFirst
    }

    /// OpenAI `clip._transform(n)` applied to a PIL image.
    public static func openAI(imageSize: Int) -> PreprocessConfig {
        PreprocessConfig(resizeShortestEdge: imageSize, cropHeight: imageSize, cropWidth: imageSize,
                         cropRounding: .halfToEven, alpha: .premultipliedDrop)
    }

    /// Hugging Face `CLIPImageProcessor` defaults (PIL semantics: Pillow bicubic, floor crop, white composite).
    public static func huggingFace(imageSize: Int) -> PreprocessConfig {
        PreprocessConfig(resizeShortestEdge: imageSize, cropHeight: imageSize, cropWidth: imageSize,
                         cropRounding: .floor, alpha: .compositeWhite)
    }

    /// Parse an HF `preprocessor_config.json`: `size` as a bare int or `{"shortest_edge": n}`;
    /// `crop_size` as an int or `{"height", "width"}`; `image_mean` / `image_std`; `do_resize`,
    /// `do_center_crop`, `do_normalize`, `do_rescale`, `do_convert_rgb`; `rescale_factor`; `resample`.
    /// Missing keys take `CLIPImageProcessor` defaults (224, CLIP mean/std, 1/255). Throws for
    /// settings this pipeline cannot reproduce (no resize, no centre crop, fixed height×width
    /// resize, non-bicubic resampling).
    public static func huggingFace(preprocessorConfig data: Data) throws -> PreprocessConfig {
        let source = "preprocessor_config.json"
        let raw: HFPreprocessorConfig
        do {
            raw = try JSONDecoder().decode(HFPreprocessorConfig.self, from: data)
        } catch {
            throw ImageError(file: source, "cannot parse (\(error))")
        }
        if raw.do_resize == false {
            throw ImageError(file: source, "do_resize = false is not supported")
        }
        if raw.do_center_crop == false {
            throw ImageError(file: source, "do_center_crop = false is not supported")
        }
        if let resample = raw.resample, resample != 3 {
            throw ImageError(file: source, "resample = \(resample) is not supported (only 3 = BICUBIC)")
        }
        var shortest = 224
        switch raw.size {
        case nil: break
        case .int(let n)?: shortest = n
        case .dict(let d)?:
            if let n = d["shortest_edge"] ?? nil {
                shortest = n
            } else {
                throw ImageError(file: source, "size \(d.compactMapValues { $0 }) is not supported (need shortest_edge)")
            }
        }
        var cropH = 224, cropW = 224
        switch raw.crop_size {
        case nil: break
        case .int(let n)?: cropH = n; cropW = n
        case .dict(let d)?:
            guard let h = d["height"] ?? nil, let w = d["width"] ?? nil else {
                throw ImageError(file: source, "crop_size needs height and width")
            }
            cropH = h; cropW = w
        }
        var config = PreprocessConfig(resizeShortestEdge: shortest, cropHeight: cropH, cropWidth: cropW,
                                      cropRounding: .floor, alpha: .compositeWhite)
        if let m = raw.image_mean { config.mean = m.values(count: 3).map { Float($0) } }
        if let s = raw.image_std { config.std = s.values(count: 3).map { Float($0) } }
        if raw.do_normalize == false {
            config.mean = [0, 0, 0]
            config.std = [1, 1, 1]
        }
        if let f = raw.rescale_factor { config.rescaleFactor = Float(f) }
        if raw.do_rescale == false { config.rescaleFactor = 1 }
        try config.validate(source: source)
        return config
    }

    func validate(source: String) throws {
        guard resizeShortestEdge > 0, cropHeight > 0, cropWidth > 0 else {
            throw ImageError(file: source, "sizes must be positive (resize \(resizeShortestEdge), crop \(cropHeight)x\(cropWidth))")
        }
        guard cropHeight <= resizeShortestEdge, cropWidth <= resizeShortestEdge else {
            throw ImageError(file: source, "crop \(cropHeight)x\(cropWidth) is larger than the resized shortest edge \(resizeShortestEdge)")
        }
        guard mean.count == 3, std.count == 3, !std.contains(0) else {
            throw ImageError(file: source, "mean and std need 3 values with non-zero std (got \(mean), \(std))")
        }
    }
}

/// Raw HF preprocessor_config.json fields used here.
private struct HFPreprocessorConfig: Decodable {
    enum SizeSpec: Decodable {
        case int(Int)
        case dict([String: Int?])
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let n = try? c.decode(Int.self) { self = .int(n); return }
            self = .dict(try c.decode([String: Int?].self))
        }
    }
    enum Numbers: Decodable {
        case one(Double)
        case many([Double])
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let x = try? c.decode(Double.self) { self = .one(x); return }
            self = .many(try c.decode([Double].self))
        }
        func values(count: Int) -> [Double] {
            switch self {
            case .one(let x): return [Double](repeating: x, count: count)
            case .many(let xs): return xs
            }
        }
    }
    var size: SizeSpec?
    var crop_size: SizeSpec?
    var image_mean: Numbers?
    var image_std: Numbers?
    var do_resize: Bool?
    var do_center_crop: Bool?
    var do_normalize: Bool?
    var do_rescale: Bool?
    var do_convert_rgb: Bool?
    var rescale_factor: Double?
    var resample: Int?
}

/// CLIP image preprocessing matching Pillow + the OpenAI or HF pipeline byte for byte (uint8 stage).
public enum ImagePreprocessor {
    /// Output size of "resize shortest edge to n": `(n, int(n * long / short))`, as torchvision and HF.
    public static func resizedSize(width: Int, height: Int, shortestEdge n: Int) -> (width: Int, height: Int) {
        if width <= height {
            let long = Int(Double(n * height) / Double(width))  // Python int(n * long / short)
            return (n, long)
        } else {
            let long = Int(Double(n * width) / Double(height))
            return (long, n)
        }
    }

    /// Centre-crop offset along one axis: `(size - crop) / 2` rounded per `rounding`.
    public static func cropOffset(size: Int, crop: Int, rounding: CropRounding) -> Int {
        let d = size - crop
        precondition(d >= 0, "crop larger than image")
        if d % 2 == 0 { return d / 2 }
        let k = d / 2  // value is k + 0.5
        switch rounding {
        case .floor: return k
        case .halfToEven: return k % 2 == 0 ? k : k + 1
        }
    }

    /// Resize + centre crop (+ alpha handling), returning the uint8 RGB crop before normalisation.
    public static func resizedAndCropped(_ image: Image8, config: PreprocessConfig) throws -> Image8 {
        try config.validate(source: "PreprocessConfig")
        try Image8.validate(width: image.width, height: image.height, channels: image.channels,
                            count: image.pixels.count, source: "<image>")
        var input = image
        var premultiplied = false
        if input.channels == 4 {
            if input.isOpaqueRGBA {
                // Alpha 255 everywhere: every alpha mode reduces exactly to plain RGB.
                input = input.toRGB()
            } else {
                switch config.alpha {
                case .premultipliedDrop:
                    input = premultiply(input)
                    premultiplied = true
                case .compositeWhite:
                    input = compositeOnWhite(input)
                case .dropBeforeResize:
                    input = input.toRGB()
                }
            }
        }
        let target = resizedSize(width: input.width, height: input.height, shortestEdge: config.resizeShortestEdge)
        // An extreme aspect ratio (e.g. a 1x4194304 PNG of 8 KB) would make the resized image absurdly large:
        // refuse it before allocating, with the decoder's pixel limit.
        guard target.width <= Image8.maxPixels / max(target.height, 1) else {
            throw ImageError(file: "<image>", "resizing \(image.width)x\(image.height) to shortest edge "
                + "\(config.resizeShortestEdge) gives \(target.width)x\(target.height), over the limit of \(Image8.maxPixels) pixels")
        }
        let resized = PillowResize.resize(input, width: target.width, height: target.height,
                                          order: config.resizePassOrder)
        let left = cropOffset(size: resized.width, crop: config.cropWidth, rounding: config.cropRounding)
        let top = cropOffset(size: resized.height, crop: config.cropHeight, rounding: config.cropRounding)
        let crop = resized.cropped(left: left, top: top, width: config.cropWidth, height: config.cropHeight)
        if premultiplied { return unpremultiplyDroppingAlpha(crop) }
        return crop.toRGB()
    }

    /// Resize/crop/normalise → `3 * cropHeight * cropWidth` Float32 values, CHW (R plane, G, B).
    public static func pixels(_ image: Image8, config: PreprocessConfig) throws -> [Float] {
        let rgb = try resizedAndCropped(image, config: config)
        var out = [Float](repeating: 0, count: 3 * rgb.width * rgb.height)
        out.withUnsafeMutableBufferPointer { normalize(rgb, config: config, into: $0) }
        return out
    }

    /// Like `pixels`, writing into a caller-provided buffer of at least `3 * cropHeight * cropWidth`
    /// floats (e.g. one slot of a batch tensor).
    public static func writePixels(_ image: Image8, config: PreprocessConfig,
                                   into buffer: UnsafeMutableBufferPointer<Float>) throws {
        let rgb = try resizedAndCropped(image, config: config)
        guard buffer.count >= 3 * rgb.width * rgb.height else {
            throw ImageError(file: "<buffer>", "output buffer has \(buffer.count) floats, need \(3 * rgb.width * rgb.height)")
        }
        normalize(rgb, config: config, into: buffer)
    }

    /// Per-channel lookup table of `(v * rescale - mean) / std` in Float32, matching torchvision
    /// `ToTensor` (`x.float().div(255)`) + `Normalize` (`sub_(mean).div_(std)`).
    static func normalizationTable(config: PreprocessConfig) -> [Float] {
        var lut = [Float](repeating: 0, count: 3 * 256)
        let exact255 = config.rescaleFactor == Float(1.0 / 255.0)
        for c in 0..<3 {
            for v in 0..<256 {
                let x = exact255 ? Float(v) / 255 : Float(v) * config.rescaleFactor
                lut[c * 256 + v] = (x - config.mean[c]) / config.std[c]
            }
        }
        return lut
    }

    static func normalize(_ rgb: Image8, config: PreprocessConfig, into out: UnsafeMutableBufferPointer<Float>) {
        precondition(rgb.channels == 3)
        let lut = normalizationTable(config: config)
        let plane = rgb.width * rgb.height
        lut.withUnsafeBufferPointer { t in
            rgb.pixels.withUnsafeBufferPointer { p in
                for i in 0..<plane {
                    out[i] = t[Int(p[3 * i])]
                    out[plane + i] = t[256 + Int(p[3 * i + 1])]
                    out[2 * plane + i] = t[512 + Int(p[3 * i + 2])]
                }
            }
        }
    }

    // MARK: - Alpha (Pillow Convert.c / AlphaComposite.c integer formulas)

    /// RGBA → RGBa: c' = MULDIV255(c, a) = ((t >> 8) + t) >> 8 with t = c·a + 128.
    static func premultiply(_ image: Image8) -> Image8 {
        var out = image.pixels
        out.withUnsafeMutableBufferPointer { p in
            var i = 0
            while i < p.count {
                let a = UInt32(p[i + 3])
                if a != 255 {
                    for c in 0..<3 {
                        let t = UInt32(p[i + c]) * a + 128
                        p[i + c] = UInt8(truncatingIfNeeded: ((t >> 8) + t) >> 8)
                    }
                }
                i += 4
            }
        }
        return Image8(uncheckedWidth: image.width, height: image.height, channels: 4, pixels: out)
    }

    /// RGBa → RGBA → RGB: c = min(255, 255·c' / a) (integer division) unless a is 0 or 255; alpha dropped.
    static func unpremultiplyDroppingAlpha(_ image: Image8) -> Image8 {
        let n = image.width * image.height
        var out = [UInt8](repeating: 0, count: n * 3)
        image.pixels.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                for i in 0..<n {
                    let a = UInt32(s[4 * i + 3])
                    for c in 0..<3 {
                        let v = UInt32(s[4 * i + c])
                        d[3 * i + c] = (a == 0 || a == 255) ? UInt8(v) : UInt8(min(255, (255 * v) / a))
                    }
                }
            }
        }
        return Image8(uncheckedWidth: image.width, height: image.height, channels: 3, pixels: out)
    }

    /// `Image.alpha_composite(white, rgba).convert("RGB")` with Pillow's integer arithmetic
    /// (7 extra precision bits; the white background is opaque so out-alpha is 255).
    static func compositeOnWhite(_ image: Image8) -> Image8 {
        let n = image.width * image.height
        var out = [UInt8](repeating: 0, count: n * 3)
        image.pixels.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                for i in 0..<n {
                    let a = UInt32(s[4 * i + 3])
                    if a == 0 {
                        d[3 * i] = 255; d[3 * i + 1] = 255; d[3 * i + 2] = 255
                        continue
                    }
                    // blend = 255·(255 − a); outa255 = 255·255; coef1 = a·128; coef2 = 255·128 − coef1
                    let coef1 = a << 7
                    let coef2 = (255 << 7) - coef1
                    for c in 0..<3 {
                        let t = UInt32(s[4 * i + c]) * coef1 + 255 * coef2 + (0x80 << 7)
                        d[3 * i + c] = UInt8(truncatingIfNeeded: (((t >> 8) + t) >> 8) >> 7)
                    }
                }
            }
        }
        return Image8(uncheckedWidth: image.width, height: image.height, channels: 3, pixels: out)
    }
}
