import Foundation

/// An error while decoding or preprocessing an image. Its description is one line naming the
/// file (or the in-memory source) and what is wrong.
public struct ImageError: Error, CustomStringConvertible, Sendable {
    /// File path or name of the source ("<memory>" for raw arrays).
    public var file: String
    public var message: String

    public init(file: String, _ message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
}

/// An 8-bit image with interleaved channels (row-major, HWC):
/// `channels` = 1 (L, grayscale), 3 (RGB) or 4 (RGBA, straight / non-premultiplied alpha).
public struct Image8: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let channels: Int
    /// `height * width * channels` bytes, pixel (x, y) channel c at `(y * width + x) * channels + c`.
    public var pixels: [UInt8]

    /// Largest accepted pixel count (width × height), checked before allocating: 2^28.
    public static let maxPixels = 1 << 28

    /// Interleaved (HWC) pixels, e.g. a decoded file or an MNIST row (channels = 1).
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8], source: String = "<memory>") throws {
        try Image8.validate(width: width, height: height, channels: channels, count: pixels.count, source: source)
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// Interleaved (HWC) pixels from any byte collection (e.g. a `Data` slice of a dataset file).
    public init<C: Collection>(width: Int, height: Int, channels: Int, interleaved bytes: C,
                               source: String = "<memory>") throws where C.Element == UInt8 {
        try self.init(width: width, height: height, channels: channels, pixels: Array(bytes), source: source)
    }

    /// Planar (CHW) pixels: all of channel 0, then channel 1, ... — the CIFAR-10/100 binary row
    /// layout (1024 R, 1024 G, 1024 B for a 32×32 image).
    public init<C: Collection>(width: Int, height: Int, channels: Int, planar bytes: C,
                               source: String = "<memory>") throws where C.Element == UInt8 {
        try Image8.validate(width: width, height: height, channels: channels, count: bytes.count, source: source)
        let plane = width * height
        var out = [UInt8](repeating: 0, count: plane * channels)
        let src = Array(bytes)
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                for c in 0..<channels {
                    let base = c * plane
                    for i in 0..<plane { d[i * channels + c] = s[base + i] }
                }
            }
        }
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = out
    }

    /// Internal unchecked initialiser (dimensions already validated by the caller).
    init(uncheckedWidth width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    static func validate(width: Int, height: Int, channels: Int, count: Int, source: String) throws {
        guard channels == 1 || channels == 3 || channels == 4 else {
            throw ImageError(file: source, "unsupported channel count \(channels) (expected 1 = L, 3 = RGB or 4 = RGBA)")
        }
        guard width > 0, height > 0 else {
            throw ImageError(file: source, "invalid image size \(width)x\(height)")
        }
        guard width <= maxPixels, height <= maxPixels, width * height <= maxPixels else {
            throw ImageError(file: source, "image size \(width)x\(height) exceeds the limit of \(maxPixels) pixels")
        }
        guard count == width * height * channels else {
            throw ImageError(file: source, "pixel buffer has \(count) bytes, expected \(width)x\(height)x\(channels) = \(width * height * channels)")
        }
    }

    /// True if this is RGBA and every alpha value is 255.
    var isOpaqueRGBA: Bool {
        guard channels == 4 else { return false }
        return pixels.withUnsafeBufferPointer { p in
            var i = 3
            while i < p.count {
                if p[i] != 255 { return false }
                i += 4
            }
            return true
        }
    }

    /// RGBA → RGB by dropping alpha (Pillow `convert("RGB")` from RGBA); L → RGB by replication.
    func toRGB() -> Image8 {
        if channels == 3 { return self }
        let n = width * height
        var out = [UInt8](repeating: 0, count: n * 3)
        pixels.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                if channels == 1 {
                    for i in 0..<n {
                        let v = s[i]
                        d[3 * i] = v; d[3 * i + 1] = v; d[3 * i + 2] = v
                    }
                } else {
                    for i in 0..<n {
                        d[3 * i] = s[4 * i]; d[3 * i + 1] = s[4 * i + 1]; d[3 * i + 2] = s[4 * i + 2]
                    }
                }
            }
        }
        return Image8(uncheckedWidth: width, height: height, channels: 3, pixels: out)
    }

    /// A sub-rectangle (no bounds padding; caller guarantees it lies inside the image).
    func cropped(left: Int, top: Int, width w: Int, height h: Int) -> Image8 {
        if left == 0 && top == 0 && w == width && h == height { return self }
        let c = channels
        var out = [UInt8](repeating: 0, count: w * h * c)
        pixels.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                let rowBytes = w * c
                for y in 0..<h {
                    let srcStart = ((top + y) * width + left) * c
                    let dstStart = y * rowBytes
                    for i in 0..<rowBytes { d[dstStart + i] = s[srcStart + i] }
                }
            }
        }
        return Image8(uncheckedWidth: w, height: h, channels: c, pixels: out)
    }
}
