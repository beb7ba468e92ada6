// Minimal in-memory tar reader: ustar, GNU (long names, base-256 sizes) and pax `path` records.
// Entries are only ever returned as in-memory `Data`; nothing is written to disk, so entry names such as
// `../x` or `/etc/x` cannot escape anywhere (callers match on names, see `TarEntry.baseName`).

import Foundation

/// A regular file from a tar archive.
public struct TarEntry: Sendable, Equatable {
    /// The name stored in the archive (after GNU long-name / pax `path` / ustar prefix resolution), verbatim.
    public let path: String
    public let data: Data

    /// The last path component of `path`.
    public var baseName: String {
        String(path.split(separator: "/").last ?? Substring(path))
    }
}

public enum TarReader {
    private static let block = 512

    /// Calls `body` for every regular file in `archive`, in archive order. Directories, links, devices and
    /// metadata entries are skipped. `wanted` (if given) is asked with the entry path before its data is copied.
    ///
    /// - Throws: `DatasetError.truncated` when an entry's data runs past the end, `DatasetError.malformed` for a
    ///   bad header checksum, an unparsable size, or a missing end-of-archive block (an archive cut exactly at a
    ///   block boundary).
    public static func forEachRegularFile(in archive: Data, name: String,
                                          wanted: ((String) -> Bool)? = nil,
                                          _ body: (TarEntry) throws -> Void) throws {
        let bytes = archive.count
        let start = archive.startIndex
        var offset = 0
        var pendingLongName: String?
        var pendingPaxPath: String?
        while true {
            guard offset + block <= bytes else {
                if offset == bytes {
                    throw DatasetError.malformed(
                        path: name, reason: "tar archive ends at byte \(bytes) without an end-of-archive block (truncated?)")
                }
                throw DatasetError.truncated(path: name, expectedBytes: offset + block, actualBytes: bytes)
            }
            let header = archive.subdata(in: start + offset ..< start + offset + block)
            if header.allSatisfy({ $0 == 0 }) { return }  // end-of-archive marker
            try verifyChecksum(header, name: name, offset: offset)
            let size = try parseNumber(header, 124, 12, name: name, field: "size", offset: offset)
            let type = header[156]
            let dataStart = offset + block
            let (padded, overflow) = size.addingReportingOverflow(block - 1)
            guard !overflow, size <= bytes else {
                throw DatasetError.truncated(path: name, expectedBytes: size, actualBytes: bytes - dataStart)
            }
            let dataBlocks = padded / block * block
            // Types whose data follows the header (POSIX: regular, contiguous, and the metadata types).
            let hasData: Bool
            switch type {
            case UInt8(ascii: "0"), 0, UInt8(ascii: "7"), UInt8(ascii: "L"), UInt8(ascii: "K"),
                 UInt8(ascii: "x"), UInt8(ascii: "g"):
                hasData = true
            case UInt8(ascii: "1"), UInt8(ascii: "2"), UInt8(ascii: "3"), UInt8(ascii: "4"),
                 UInt8(ascii: "5"), UInt8(ascii: "6"):
                hasData = false
            default:
                hasData = true  // unknown types (GNU sparse, volume headers): skip their data
            }
            if hasData && dataStart + size > bytes {
                throw DatasetError.truncated(path: name, expectedBytes: dataStart + size, actualBytes: bytes)
            }
            func payload() -> Data { archive.subdata(in: start + dataStart ..< start + dataStart + size) }

            switch type {
            case UInt8(ascii: "L"):
                pendingLongName = cString(payload())
            case UInt8(ascii: "x"):
                if let p = paxPath(payload()) { pendingPaxPath = p }
            case UInt8(ascii: "0"), 0, UInt8(ascii: "7"):
                let path = pendingPaxPath ?? pendingLongName ?? headerName(header)
                pendingPaxPath = nil
                pendingLongName = nil
                if wanted?(path) ?? true {
                    try body(TarEntry(path: path, data: payload()))
                }
            default:
                pendingPaxPath = nil
                pendingLongName = nil
            }
            offset = dataStart + (hasData ? dataBlocks : 0)
        }
    }

    /// All regular files (optionally only those `wanted` accepts), in archive order.
    public static func regularFiles(in archive: Data, name: String,
                                    wanted: ((String) -> Bool)? = nil) throws -> [TarEntry] {
        var out: [TarEntry] = []
        try forEachRegularFile(in: archive, name: name, wanted: wanted) { out.append($0) }
        return out
    }

    /// Reads a `.tar`, `.tar.gz` or `.tgz` file (gzip detected by magic) and returns the wanted regular files.
    public static func regularFiles(at url: URL, maxBytes: Int = GzipData.defaultMaxOutputBytes,
                                    wanted: ((String) -> Bool)? = nil) throws -> [TarEntry] {
        var data = try ReaderFiles.read(url, expected: "a tar or tar.gz archive")
        if GzipData.isGzip(data) {
            data = try GzipData.decompress(data, maxOutputBytes: maxBytes, name: url.path)
        } else if data.count > maxBytes {
            throw DatasetError.tooLarge(path: url.path, claimed: "a tar file of \(data.count) bytes", limit: maxBytes)
        }
        return try regularFiles(in: data, name: url.path, wanted: wanted)
    }

    // MARK: - Header fields

    private static func verifyChecksum(_ h: Data, name: String, offset: Int) throws {
        let stored = try parseNumber(h, 148, 8, name: name, field: "checksum", offset: offset)
        var unsigned = 0
        var signed = 0
        for i in 0 ..< block {
            let b = (148 ..< 156).contains(i) ? UInt8(ascii: " ") : h[i]
            unsigned += Int(b)
            signed += Int(Int8(bitPattern: b))
        }
        guard stored == unsigned || stored == signed else {
            throw DatasetError.malformed(path: name, reason: "tar header at byte \(offset) has a bad checksum "
                                             + "(stored \(stored), computed \(unsigned)); not a tar archive or corrupt")
        }
    }

    /// Octal (NUL/space terminated) or GNU base-256 (high bit of the first byte set) number field.
    private static func parseNumber(_ h: Data, _ at: Int, _ length: Int, name: String, field: String,
                                    offset: Int) throws -> Int {
        let bytes = h[at ..< at + length]
        if let first = bytes.first, first & 0x80 != 0 {
            guard first & 0x40 == 0 else {
                throw DatasetError.malformed(path: name, reason: "negative tar \(field) at byte \(offset)")
            }
            var value = Int(first & 0x3F)
            for b in bytes.dropFirst() {
                let (shifted, o1) = value.multipliedReportingOverflow(by: 256)
                guard !o1 else {
                    throw DatasetError.malformed(path: name, reason: "tar \(field) at byte \(offset) overflows")
                }
                value = shifted | Int(b)
            }
            return value
        }
        var value = 0
        var seenDigit = false
        for b in bytes {
            if b == 0 || (b == UInt8(ascii: " ") && seenDigit) { break }
            if b == UInt8(ascii: " ") { continue }
            guard b >= UInt8(ascii: "0") && b <= UInt8(ascii: "7") else {
                throw DatasetError.malformed(path: name, reason: "tar \(field) field at byte \(offset) is not octal; "
                                                 + "not a tar archive or corrupt")
            }
            value = value * 8 + Int(b - UInt8(ascii: "0"))  // ≤ 12 octal digits: cannot overflow Int64
            seenDigit = true
        }
        return value
    }

    /// `name` (100 bytes), prefixed by the ustar `prefix` (155 bytes) when the magic is POSIX "ustar\0".
    private static func headerName(_ h: Data) -> String {
        let name = cString(h[0 ..< 100])
        let isPosixUstar = h[257 ..< 263].elementsEqual("ustar\0".utf8)
        if isPosixUstar {
            let prefix = cString(h[345 ..< 500])
            if !prefix.isEmpty { return prefix + "/" + name }
        }
        return name
    }

    private static func cString(_ bytes: Data) -> String {
        let end = bytes.firstIndex(of: 0) ?? bytes.endIndex
        return String(decoding: bytes[bytes.startIndex ..< end], as: UTF8.self)
    }

    /// The `path` record of a pax extended header ("<len> path=<value>\n" records).
    private static func paxPath(_ data: Data) -> String? {
        var i = data.startIndex
        var result: String?
        while i < data.endIndex {
            guard let space = data[i...].firstIndex(of: UInt8(ascii: " ")),
                  let length = Int(String(decoding: data[i ..< space], as: UTF8.self)), length > 0,
                  i + length <= data.endIndex else { break }
            let record = data[(space + 1) ..< (i + length - 1)]  // drop the trailing "\n"
            if let eq = record.firstIndex(of: UInt8(ascii: "=")),
               String(decoding: record[record.startIndex ..< eq], as: UTF8.self) == "path" {
                result = String(decoding: record[(eq + 1)...], as: UTF8.self)
            }
            i += length
        }
        return result
    }
}
