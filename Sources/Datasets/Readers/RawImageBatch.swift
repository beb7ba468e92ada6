// Decoded pixels of equally sized 8-bit images, stored back to back.

/// `count` images of `height × width × channels` bytes each, stored contiguously.
///
/// Layout: image-major, then HWC interleaved (row-major rows, channels innermost), i.e. the byte of
/// image `n`, row `y`, column `x`, channel `c` is at `n·H·W·C + (y·W + x)·C + c`. CIFAR records are stored
/// CHW planar on disk (1024 R, then 1024 G, then 1024 B); the CIFAR reader converts them to this layout.
/// MNIST/Fashion-MNIST have `channels == 1`.
public struct RawImageBatch: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public let count: Int
    /// `count · bytesPerImage` bytes.
    public let pixels: [UInt8]

    public var bytesPerImage: Int { width * height * channels }

    /// - Precondition: `pixels.count == count * width * height * channels`.
    public init(width: Int, height: Int, channels: Int, count: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && channels > 0 && count >= 0, "invalid image batch shape")
        precondition(pixels.count == count * width * height * channels, "pixel buffer size does not match shape")
        self.width = width
        self.height = height
        self.channels = channels
        self.count = count
        self.pixels = pixels
    }

    /// The HWC bytes of image `index` (a view, no copy).
    public func image(at index: Int) -> ArraySlice<UInt8> {
        precondition(index >= 0 && index < count, "image index \(index) out of range 0..<\(count)")
        let start = index * bytesPerImage
        return pixels[start ..< start + bytesPerImage]
    }

    /// A new batch holding the images at `indices`, in that order.
    public func subset(_ indices: [Int]) -> RawImageBatch {
        let size = bytesPerImage
        var out = [UInt8](repeating: 0, count: indices.count * size)
        out.withUnsafeMutableBufferPointer { dst in
            pixels.withUnsafeBufferPointer { src in
                for (k, i) in indices.enumerated() {
                    precondition(i >= 0 && i < count, "image index \(i) out of range 0..<\(count)")
                    (dst.baseAddress! + k * size).update(from: src.baseAddress! + i * size, count: size)
                }
            }
        }
        return RawImageBatch(width: width, height: height, channels: channels, count: indices.count, pixels: out)
    }
}
