import CZlib
import Foundation

/// A minimal PNG encoder for test images (8-bit gray or RGB, or 16-bit gray for an unsupported-mode case): signature,
/// IHDR, one zlib IDAT with filter 0 on every row, IEND, each chunk with zlib's CRC-32 (PNG spec §5, §11.2.2).
enum PNGWriter {
    static func encode(width: Int, height: Int, channels: Int, bitDepth: Int = 8, pixels: [UInt8]) -> Data {
        let rowBytes = width * channels * bitDepth / 8
        precondition(pixels.count == rowBytes * height)
        var raw = [UInt8]()
        for y in 0..<height { raw.append(0); raw += pixels[(y * rowBytes)..<((y + 1) * rowBytes)] }
        var size = compressBound(uLong(raw.count))
        var packed = [UInt8](repeating: 0, count: Int(size))
        precondition(compress2(&packed, &size, raw, uLong(raw.count), 9) == Z_OK)
        func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }
        var out: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]
        func chunk(_ type: String, _ body: [UInt8]) {
            let typed = Array(type.utf8) + body
            out += be32(body.count) + typed + be32(Int(crc32(0, typed, uInt(typed.count))))
        }
        chunk("IHDR", be32(width) + be32(height) + [UInt8(bitDepth), channels == 3 ? 2 : 0, 0, 0, 0])
        chunk("IDAT", Array(packed.prefix(Int(size))))
        chunk("IEND", [])
        return Data(out)
    }
}
