import CImageShim
import Foundation

/// JPEG / PNG decoding through the system libjpeg(-turbo) and libpng (C shim with setjmp error
/// handling: corrupt or truncated data throws `ImageError`, never crashes).
///
/// Mapping to channels (chosen to reproduce what Pillow opens and `ImagePreprocessor` then does):
/// - JPEG: gray → L (1); YCbCr/RGB → RGB (3); CMYK/YCCK → RGB (3), Adobe-inverted CMYK converted with
///   Pillow's `cmyk2rgb` formula at decode time (Pillow would resize in CMYK and convert afterwards).
///   A premature end of the data stream throws, as Pillow's "image file is truncated".
/// - PNG: gray 1/2/4/8-bit → L; gray+alpha → RGBA (gray replicated; Pillow's LA resize gives the same
///   bytes); RGB → RGB; RGBA → RGBA; palette → RGB, or RGBA when it has tRNS; 16-bit samples keep the
///   high byte (Pillow's "RGB;16B"/"RGBA;16B" unpacking). 16-bit grayscale is refused (Pillow: mode
///   I;16). tRNS on gray/RGB images is ignored (Pillow keeps them L/RGB). No gamma, no ICC.
/// - EXIF orientation is never applied (neither PIL nor HF applies it).
public enum ImageDecoder {
    public enum Format: String, Sendable { case jpeg, png }

    /// Detect the format from the magic bytes (JPEG `FF D8 FF`, PNG `89 50 4E 47 0D 0A 1A 0A`).
    public static func format(of data: Data) -> Format? {
        let bytes = [UInt8](data.prefix(8))
        if bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF { return .jpeg }
        if bytes == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        return nil
    }

    public static func decode(contentsOf url: URL) throws -> Image8 {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw ImageError(file: url.path, "cannot read file (\(error.localizedDescription))")
        }
        return try decode(data, name: url.path)
    }

    public static func decode(_ data: Data, name: String) throws -> Image8 {
        guard let format = format(of: data) else {
            if data.isEmpty { throw ImageError(file: name, "empty file, not an image") }
            let head = data.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw ImageError(file: name, "not a JPEG or PNG file (first bytes: \(head))")
        }
        var result = CISImage()
        let status: Int32 = data.withUnsafeBytes { raw -> Int32 in
            let base = raw.bindMemory(to: UInt8.self).baseAddress
            switch format {
            case .jpeg: return cis_decode_jpeg(base, raw.count, UInt64(Image8.maxPixels), &result)
            case .png: return cis_decode_png(base, raw.count, UInt64(Image8.maxPixels), &result)
            }
        }
        defer { cis_image_free(&result) }
        guard status == 0, let pixels = result.pixels else {
            let message = withUnsafeBytes(of: result.message) { raw -> String in
                let bytes = raw.bindMemory(to: UInt8.self)
                let end = bytes.firstIndex(of: 0) ?? bytes.count
                return String(decoding: bytes[..<end], as: UTF8.self)
            }
            throw ImageError(file: name, message.isEmpty ? "cannot decode \(format.rawValue.uppercased()) data" : message)
        }
        let width = Int(result.width), height = Int(result.height), channels = Int(result.channels)
        let count = width * height * channels
        let array = [UInt8](UnsafeBufferPointer(start: pixels, count: count))
        return try Image8(width: width, height: height, channels: channels, pixels: array, source: name)
    }
}
