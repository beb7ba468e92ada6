/// The central directory of a zip archive held in memory (a memory-mapped file), for readers that use stored
/// (uncompressed) members in place, as torch.save writes them. Handles zip64 (sizes and offsets past 4 GiB, and
/// the zip64 end records torch writes universally). Every offset and size is checked against the buffer; nothing
/// is decompressed.
struct ZipDirectory {
    struct Entry {
        let name: String
        /// 0 = stored; anything else is compressed and cannot be used in place.
        let method: UInt16
        /// The member's bytes (stored members: its content) within the archive.
        let dataRange: Range<Int>
        let uncompressedSize: Int
    }

    /// Why the archive cannot be read, as one line without the path.
    struct Failure: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    let entries: [Entry]
    private let index: [String: Int]

    func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    static func isZip(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && bytes.loadUnaligned(as: UInt32.self).littleEndian == 0x0403_4B50
    }

    init(_ bytes: UnsafeRawBufferPointer) throws(Failure) {
        func u16(_ at: Int) -> Int { Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self))) }
        func u32(_ at: Int) -> Int { Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
        func u64(_ at: Int) throws(Failure) -> Int {
            let v = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self))
            guard v <= UInt64(Int.max) else { throw Failure("zip64 field at byte \(at) is out of range") }
            return Int(v)
        }
        let size = bytes.count

        // End of central directory: the last signature within the last 22 + 65535 bytes.
        guard size >= 22 else { throw Failure("file is \(size) bytes, too short for a zip archive") }
        var eocd = -1
        var at = size - 22
        while at >= max(0, size - 22 - 65535) {
            if u32(at) == 0x0605_4B50 && at + 22 + u16(at + 20) <= size { eocd = at; break }
            at -= 1
        }
        guard eocd >= 0 else { throw Failure("no zip end-of-central-directory record (truncated download?)") }
        var count = u16(eocd + 10), cdSize = u32(eocd + 12), cdOffset = u32(eocd + 16)
        if eocd >= 20 && u32(eocd - 20) == 0x0706_4B50 {
            let record = try u64(eocd - 20 + 8)
            guard record <= size - 56, u32(record) == 0x0606_4B50 else {
                throw Failure("zip64 end-of-central-directory locator points outside the file")
            }
            count = try u64(record + 32)
            cdSize = try u64(record + 40)
            cdOffset = try u64(record + 48)
        }
        guard cdOffset <= size, cdSize <= size - cdOffset else {
            throw Failure("central directory (\(cdSize) bytes at \(cdOffset)) runs past the end of the \(size)-byte file (truncated download?)")
        }
        guard count <= cdSize / 46 else { throw Failure("central directory claims \(count) entries in \(cdSize) bytes") }

        var entries: [Entry] = []
        var index: [String: Int] = [:]
        var p = cdOffset
        let cdEnd = cdOffset + cdSize
        for _ in 0..<count {
            guard p <= cdEnd - 46, u32(p) == 0x0201_4B50 else { throw Failure("central directory entry at byte \(p) is malformed") }
            let flags = u16(p + 8), method = u16(p + 10)
            var compressed = u32(p + 20), uncompressed = u32(p + 24)
            let nameLength = u16(p + 28), extraLength = u16(p + 30), commentLength = u16(p + 32)
            var localOffset = u32(p + 42)
            let nameStart = p + 46
            guard nameLength + extraLength + commentLength <= cdEnd - nameStart else {
                throw Failure("central directory entry at byte \(p) runs past the directory")
            }
            guard let name = String(validating: UnsafeRawBufferPointer(rebasing: bytes[nameStart..<(nameStart + nameLength)]), as: UTF8.self) else {
                throw Failure("entry name at byte \(nameStart) is not UTF-8")
            }
            // zip64 extended information: the 8-byte values of the fields set to 0xFFFFFFFF, in this order.
            var e = nameStart + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = u16(e), length = u16(e + 2)
                guard length <= extraEnd - e - 4 else { throw Failure("extra field of '\(name)' runs past its entry") }
                if id == 0x0001 {
                    var q = e + 4
                    let end = q + length
                    func next() throws(Failure) -> Int {
                        guard q + 8 <= end else { throw Failure("zip64 extra field of '\(name)' is too short") }
                        defer { q += 8 }
                        return try u64(q)
                    }
                    if uncompressed == 0xFFFF_FFFF { uncompressed = try next() }
                    if compressed == 0xFFFF_FFFF { compressed = try next() }
                    if localOffset == 0xFFFF_FFFF { localOffset = try next() }
                }
                e += 4 + length
            }
            guard flags & 1 == 0 else { throw Failure("entry '\(name)' is encrypted") }
            guard localOffset <= size - 30, u32(localOffset) == 0x0403_4B50 else {
                throw Failure("entry '\(name)' points outside the file or at no local header (byte \(localOffset))")
            }
            let (dataStart, o) = (localOffset + 30).addingReportingOverflow(u16(localOffset + 26) + u16(localOffset + 28))
            guard !o, dataStart <= size, compressed <= size - dataStart else {
                throw Failure("data of entry '\(name)' (\(compressed) bytes) runs past the end of the file (truncated download?)")
            }
            guard method != 0 || compressed == uncompressed else {
                throw Failure("stored entry '\(name)' has compressed size \(compressed) but size \(uncompressed)")
            }
            guard index.updateValue(entries.count, forKey: name) == nil else { throw Failure("entry '\(name)' appears twice") }
            entries.append(Entry(name: name, method: UInt16(method), dataRange: dataStart..<(dataStart + compressed),
                                 uncompressedSize: uncompressed))
            p = nameStart + nameLength + extraLength + commentLength
        }
        self.entries = entries
        self.index = index
    }
}
