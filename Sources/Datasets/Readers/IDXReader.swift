// IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.
//
// Layout: 4-byte big-endian magic `0x0000 TT NN` (TT = element type, 0x08 = unsigned byte; NN = number of
// dimensions), NN big-endian UInt32 dimension sizes, then the elements in row-major order.

import Foundation

public enum IDXReader {
    /// Default cap on the payload a header may claim: 4 GiB.
    public static let defaultMaxBytes = 4 << 30
    /// Unsigned bytes, 3 dimensions (count, rows, columns).
    public static let imagesMagic: UInt32 = 0x0000_0803
    /// Unsigned bytes, 1 dimension (count).
    public static let labelsMagic: UInt32 = 0x0000_0801

    /// Reads an `idx3-ubyte` image file (plain or `.gz`, detected by content) into a 1-channel batch.
    ///
    /// The header is checked before the payload is allocated or inflated: a header claiming more than
    /// `maxBytes` of pixels is refused with `DatasetError.tooLarge`. The file must hold exactly the bytes the header
    /// announces (`DatasetError.truncated` / `.trailingData` name the file and both byte counts).
    public static func readImages(at url: URL, maxBytes: Int = defaultMaxBytes) throws -> RawImageBatch {
        let (dims, payload) = try read(url, magic: imagesMagic, what: "IDX image file", maxBytes: maxBytes)
        guard dims[1] > 0, dims[2] > 0 else {
            throw DatasetError.malformed(path: url.path, reason: "image size \(dims[1])×\(dims[2]) is empty")
        }
        return RawImageBatch(width: dims[2], height: dims[1], channels: 1, count: dims[0], pixels: payload)
    }

    /// Reads an `idx1-ubyte` label file (plain or `.gz`).
    public static func readLabels(at url: URL, maxBytes: Int = defaultMaxBytes) throws -> [UInt8] {
        try read(url, magic: labelsMagic, what: "IDX label file", maxBytes: maxBytes).payload
    }

    // MARK: - Implementation

    private static func read(_ url: URL, magic: UInt32, what: String,
                             maxBytes: Int) throws -> (dims: [Int], payload: [UInt8]) {
        let path = url.path
        let raw = try ReaderFiles.read(url, expected: what)
        let source = try ByteSource(data: raw, name: path)
        let rank = Int(magic & 0xFF)
        let headerSize = 4 + 4 * rank

        let header = try source.read(count: headerSize)
        guard header.count >= 4 else {
            throw DatasetError.truncated(path: path, expectedBytes: headerSize, actualBytes: header.count)
        }
        let found = bigEndian32(header, 0)
        guard found == magic else { throw DatasetError.badMagic(path: path, expected: magic, found: found) }
        guard header.count == headerSize else {
            throw DatasetError.truncated(path: path, expectedBytes: headerSize, actualBytes: header.count)
        }
        let dims = (0 ..< rank).map { Int(bigEndian32(header, 4 + 4 * $0)) }

        // Bound the claim before allocating anything of that size.
        var total = 1
        var overflow = false
        for d in dims {
            let (p, o) = total.multipliedReportingOverflow(by: d)
            total = p
            overflow = overflow || o
        }
        if overflow || total > maxBytes {
            let claim = dims.map(String.init).joined(separator: " × ")
            throw DatasetError.tooLarge(path: path, claimed: "header claims \(claim) = "
                                            + (overflow ? "more than 2^63" : "\(total)") + " bytes", limit: maxBytes)
        }

        let payload = try source.read(count: total)
        guard payload.count == total else {
            throw DatasetError.truncated(path: path, expectedBytes: headerSize + total,
                                         actualBytes: headerSize + payload.count)
        }
        let extra = try source.countRemaining(limit: maxBytes)
        guard extra == 0 else {
            throw DatasetError.trailingData(path: path, expectedBytes: headerSize + total,
                                            actualBytes: headerSize + total + extra)
        }
        return (dims, payload)
    }

    private static func bigEndian32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }
}

/// Sequential reads from a plain buffer or a gzip stream.
private final class ByteSource {
    private let plain: Data?
    private let stream: GzipInflateStream?
    private var offset = 0

    init(data: Data, name: String) throws {
        if GzipData.isGzip(data) {
            plain = nil
            stream = try GzipInflateStream(data, name: name)
        } else {
            plain = data
            stream = nil
        }
    }

    /// Up to `count` bytes (fewer only at the end of the data).
    func read(count: Int) throws -> [UInt8] {
        if let data = plain {
            let n = min(count, data.count - offset)
            let start = data.startIndex + offset
            offset += n
            return [UInt8](data[start ..< start + n])
        }
        // Grow with the data actually inflated: a tiny .gz can claim (up to maxBytes) far more than it holds,
        // so the header's count must not be allocated up front.
        var out: [UInt8] = []
        out.reserveCapacity(min(count, 1 << 24))
        let chunkSize = 1 << 20
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { scratch.deallocate() }
        while out.count < count {
            let want = min(chunkSize, count - out.count)
            let n = try stream!.read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[0 ..< want]))
            if n == 0 { break }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0 ..< n]))
        }
        return out
    }

    /// Bytes left after the current position (inflated and discarded for gzip; stops counting past `limit`).
    func countRemaining(limit: Int) throws -> Int {
        if let data = plain { return data.count - offset }
        var extra = 0
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { scratch.deallocate() }
        while extra <= limit {
            let n = try stream!.read(into: scratch)
            if n == 0 { break }
            extra += n
        }
        return extra
    }
}
