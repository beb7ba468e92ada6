// gzip (RFC 1952) inflate/deflate through zlib, with an output-size limit and strict end-of-stream checks.

import CZlib
import Foundation

/// Whole-buffer gzip helpers. Named `GzipData` so it does not collide with a `Gzip` type elsewhere.
public enum GzipData {
    /// Default cap on decompressed output: 4 GiB.
    public static let defaultMaxOutputBytes = 4 << 30

    /// True when `data` starts with the gzip magic bytes `1f 8b`.
    public static func isGzip(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1F && data[data.startIndex + 1] == 0x8B
    }

    /// Inflates every gzip member of `data` (concatenated members are joined; trailing zero padding is ignored).
    ///
    /// - Parameters:
    ///   - maxOutputBytes: the output is refused with `DatasetError.tooLarge` as soon as it would exceed this.
    ///     The buffer grows with the real output (never pre-sized from untrusted header fields beyond what the
    ///     input can produce), so a small corrupt file cannot trigger a huge allocation.
    ///   - name: the path or label used in error messages.
    /// - Throws: `DatasetError.malformed` for non-gzip, corrupt or truncated input; `DatasetError.tooLarge`.
    public static func decompress(_ data: Data, maxOutputBytes: Int = defaultMaxOutputBytes,
                                  name: String = "<gzip data>") throws -> Data {
        let stream = try GzipInflateStream(data, name: name)
        var out = Data()
        out.reserveCapacity(capacityHint(for: data, limit: maxOutputBytes))
        let chunkSize = 1 << 20
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { chunk.deallocate() }
        while true {
            let remaining = maxOutputBytes - out.count
            let room = remaining >= chunkSize ? chunkSize : remaining + 1  // one byte more detects a limit overrun
            let n = try stream.read(into: UnsafeMutableRawBufferPointer(rebasing: chunk[0 ..< room]))
            if n == 0 { break }
            if out.count + n > maxOutputBytes {
                throw DatasetError.tooLarge(path: name, claimed: "decompressed data of more than \(maxOutputBytes) bytes",
                                            limit: maxOutputBytes)
            }
            out.append(chunk.baseAddress!.assumingMemoryBound(to: UInt8.self), count: n)
        }
        return out
    }

    /// Reads and inflates a `.gz` file. Errors name `url.path`.
    public static func decompress(contentsOf url: URL, maxOutputBytes: Int = defaultMaxOutputBytes) throws -> Data {
        let data = try ReaderFiles.read(url, expected: "a gzip file")
        return try decompress(data, maxOutputBytes: maxOutputBytes, name: url.path)
    }

    /// Compresses `data` into a single gzip member (used to write fixtures and caches).
    public static func compress(_ data: Data, level: Int32 = 6) throws -> Data {
        let strm = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        strm.initialize(to: z_stream())
        defer { strm.deinitialize(count: 1); strm.deallocate() }
        let rc = deflateInit2_(strm, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY,
                               zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else {
            throw DatasetError.malformed(path: "<gzip compress>", reason: "deflateInit2 failed (\(rc))")
        }
        defer { deflateEnd(strm) }
        var out = Data()
        let chunkSize = 1 << 18
        let chunk = UnsafeMutablePointer<Bytef>.allocate(capacity: chunkSize)
        defer { chunk.deallocate() }
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var offset = 0
            var finished = false
            while !finished {
                let availIn = min(raw.count - offset, Int(UInt32.max))
                strm.pointee.next_in = raw.count == 0
                    ? nil : UnsafeMutablePointer(mutating: raw.baseAddress!.assumingMemoryBound(to: Bytef.self) + offset)
                strm.pointee.avail_in = uInt(availIn)
                let flush = offset + availIn == raw.count ? Z_FINISH : Z_NO_FLUSH
                strm.pointee.next_out = chunk
                strm.pointee.avail_out = uInt(chunkSize)
                let r = deflate(strm, flush)
                offset += availIn - Int(strm.pointee.avail_in)
                out.append(chunk, count: chunkSize - Int(strm.pointee.avail_out))
                switch r {
                case Z_STREAM_END: finished = true
                case Z_OK, Z_BUF_ERROR: continue
                default:
                    throw DatasetError.malformed(path: "<gzip compress>", reason: "deflate failed (\(r))")
                }
            }
        }
        return out
    }

    /// Initial capacity for the output: the ISIZE trailer (size mod 2^32 of the last member), bounded by the
    /// caller's limit and by the maximum deflate expansion (1032:1) of the compressed size.
    static func capacityHint(for data: Data, limit: Int) -> Int {
        guard data.count >= 18 else { return 0 }
        let e = data.endIndex
        let isize = Int(data[e - 4]) | Int(data[e - 3]) << 8 | Int(data[e - 2]) << 16 | Int(data[e - 1]) << 24
        let (maxExpansion, overflow) = data.count.multipliedReportingOverflow(by: 1032)
        return min(isize, limit, overflow ? Int.max : maxExpansion)
    }
}

/// Incremental gzip inflater over an in-memory buffer, so callers can read a header first and check it before
/// inflating (and allocating for) the rest.
final class GzipInflateStream {
    let name: String
    private let input: Data
    private var consumed = 0
    private var finished = false
    private let strm: UnsafeMutablePointer<z_stream>
    /// Decompressed bytes returned so far.
    private(set) var produced = 0

    init(_ input: Data, name: String) throws {
        guard GzipData.isGzip(input) else {
            throw DatasetError.malformed(path: name, reason: "not a gzip file (missing 1f 8b magic)")
        }
        self.input = input
        self.name = name
        strm = .allocate(capacity: 1)
        strm.initialize(to: z_stream())
        let rc = inflateInit2_(strm, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else {
            strm.deinitialize(count: 1)
            strm.deallocate()
            throw DatasetError.malformed(path: name, reason: "inflateInit2 failed (\(rc))")
        }
    }

    deinit {
        inflateEnd(strm)
        strm.deinitialize(count: 1)
        strm.deallocate()
    }

    /// True once every member has been inflated.
    var isAtEnd: Bool { finished }

    /// Fills `buffer` as far as the stream allows and returns the byte count; 0 only at the end of the data.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if finished || buffer.count == 0 { return 0 }
        var written = 0
        try input.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let base = raw.baseAddress!.assumingMemoryBound(to: Bytef.self)
            while written < buffer.count && !finished {
                let availIn = min(raw.count - consumed, Int(UInt32.max))
                let availOut = min(buffer.count - written, Int(UInt32.max))
                strm.pointee.next_in = UnsafeMutablePointer(mutating: base + consumed)
                strm.pointee.avail_in = uInt(availIn)
                strm.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self) + written
                strm.pointee.avail_out = uInt(availOut)
                let rc = inflate(strm, Z_NO_FLUSH)
                consumed += availIn - Int(strm.pointee.avail_in)
                written += availOut - Int(strm.pointee.avail_out)
                switch rc {
                case Z_OK:
                    continue
                case Z_STREAM_END:
                    try endOfMember(base: base, count: raw.count)
                case Z_BUF_ERROR where consumed == raw.count:
                    throw DatasetError.malformed(
                        path: name, reason: "gzip data is truncated (input ends after \(raw.count) bytes, "
                            + "before the end of the compressed stream; \(produced + written) bytes inflated)")
                case Z_BUF_ERROR:
                    continue  // output full; the loop condition ends the call
                default:
                    let message = strm.pointee.msg.map { String(cString: $0) } ?? "zlib error \(rc)"
                    throw DatasetError.malformed(
                        path: name, reason: "corrupt gzip data near compressed byte \(consumed): \(message)")
                }
            }
        }
        produced += written
        return written
    }

    /// After a member: stop at the end of input or zero padding, continue with a following member, or refuse junk.
    private func endOfMember(base: UnsafePointer<Bytef>, count: Int) throws {
        let rest = count - consumed
        if rest == 0 {
            finished = true
        } else if rest >= 2 && base[consumed] == 0x1F && base[consumed + 1] == 0x8B {
            guard inflateReset(strm) == Z_OK else {
                throw DatasetError.malformed(path: name, reason: "inflateReset failed")
            }
        } else if (consumed ..< count).allSatisfy({ base[$0] == 0 }) {
            finished = true
        } else {
            throw DatasetError.malformed(path: name,
                                         reason: "unexpected non-gzip data after the gzip stream at byte \(consumed)")
        }
    }
}
