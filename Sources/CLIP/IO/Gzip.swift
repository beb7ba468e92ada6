import CZlib
import Foundation

/// An error from `Gzip`: the input is not gzip, is truncated or corrupt, or inflates past the caller's limit.
public struct GzipError: Error, CustomStringConvertible, Sendable {
    /// One-line explanation naming the input (file path, or "<data>" for in-memory input).
    public let description: String

    init(_ source: String, _ message: String) {
        description = "gzip \(source): \(message)"
    }
}

/// Whole-buffer gunzip through zlib (`inflateInit2` with `16 + MAX_WBITS`, i.e. gzip framing only).
///
/// - Concatenated gzip members are decompressed one after another (as `gunzip` and Python's `gzip` do);
///   trailing zero bytes after the last member are ignored, any other trailing bytes are an error.
/// - Truncated or corrupt input throws `GzipError`; it never traps.
/// - Output larger than `maxOutputBytes` throws instead of growing without bound (gzip bombs).
public enum Gzip {
    /// True when `data` starts with the gzip magic bytes `1f 8b`.
    public static func isGzip(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1F && data[data.startIndex + 1] == 0x8B
    }

    /// Reads the whole file at `url` and gunzips it.
    public static func gunzip(fileAt url: URL, maxOutputBytes: Int) throws -> Data {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw GzipError(url.path, "cannot read file (\(error.localizedDescription))")
        }
        return try gunzip(data, maxOutputBytes: maxOutputBytes, source: url.path)
    }

    /// Gunzips an in-memory buffer. `source` only labels error messages.
    public static func gunzip(_ data: Data, maxOutputBytes: Int, source: String = "<data>") throws -> Data {
        guard maxOutputBytes >= 0 else { throw GzipError(source, "negative output limit \(maxOutputBytes)") }
        guard isGzip(data) else {
            throw GzipError(source, data.isEmpty ? "empty input" : "not gzip data (missing 1f 8b magic)")
        }
        let input = [UInt8](data)
        var output = [UInt8]()
        output.reserveCapacity(min(maxOutputBytes, max(input.count * 4, 1 << 16)))

        var stream = z_stream()
        var status = inflateInit2_(&stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw GzipError(source, "inflateInit2 failed (zlib status \(status))") }
        defer { inflateEnd(&stream) }

        let chunkSize = 1 << 16
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        var consumed = 0  // bytes of `input` handed to zlib and used so far

        try input.withUnsafeBufferPointer { inBuf in
            guard let inBase = inBuf.baseAddress else { return }
            var memberFinished = false
            while true {
                if stream.avail_in == 0 && consumed < input.count {
                    let n = min(input.count - consumed, Int(UInt32.max))
                    stream.next_in = UnsafeMutablePointer(mutating: inBase + consumed)
                    stream.avail_in = uInt(n)
                    consumed += n
                }
                let produced: Int = chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = uInt(chunkSize)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return chunkSize - Int(stream.avail_out)
                }
                switch status {
                case Z_OK, Z_STREAM_END, Z_BUF_ERROR:
                    break
                case Z_NEED_DICT:
                    throw GzipError(source, "stream needs a preset dictionary (not gzip)")
                case Z_DATA_ERROR:
                    let message = stream.msg.map { String(cString: $0) } ?? "invalid data"
                    throw GzipError(source, "corrupt data (\(message))")
                case Z_MEM_ERROR:
                    throw GzipError(source, "out of memory while inflating")
                default:
                    throw GzipError(source, "inflate failed (zlib status \(status))")
                }
                if produced > 0 {
                    if output.count + produced > maxOutputBytes {
                        throw GzipError(source, "decompressed size exceeds the limit of \(maxOutputBytes) bytes")
                    }
                    output.append(contentsOf: chunk[0..<produced])
                }
                let remaining = Int(stream.avail_in) + (input.count - consumed)
                if status == Z_STREAM_END {
                    memberFinished = true
                    if remaining == 0 { break }
                    let next = input.count - remaining
                    if input[next...].allSatisfy({ $0 == 0 }) { break }
                    guard remaining >= 2, input[next] == 0x1F, input[next + 1] == 0x8B else {
                        throw GzipError(source, "trailing garbage after gzip member at byte offset \(next)")
                    }
                    status = inflateReset(&stream)
                    guard status == Z_OK else { throw GzipError(source, "inflateReset failed (zlib status \(status))") }
                    memberFinished = false
                    continue
                }
                // inflate stops early only when its input is used up or its output is full. Output space left
                // over with no input remaining means the member ended without its trailer: truncated.
                if remaining == 0 && stream.avail_out != 0 { break }
                if status == Z_BUF_ERROR && produced == 0 { break }  // no progress possible
            }
            if !memberFinished {
                throw GzipError(source, "truncated input (stream ended after \(input.count) bytes without gzip trailer)")
            }
        }
        return Data(output)
    }
}
