// Errors thrown by the dataset readers. Every message is one line and starts with the path involved.

/// A failure while locating or reading dataset files. `description` is a one-line message that names the
/// file or folder involved (and, for layout problems, what was expected there).
public enum DatasetError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A required file is absent. `expected` says what the file should be, e.g. "CIFAR-10 test batch".
    case missingFile(path: String, expected: String)
    /// A required folder is absent or is not a folder.
    case missingDirectory(path: String, expected: String)
    /// The file exists but could not be read (permissions, I/O error, ...).
    case unreadable(path: String, reason: String)
    /// The content ends early: `expectedBytes` were required, `actualBytes` are present.
    case truncated(path: String, expectedBytes: Int, actualBytes: Int)
    /// The content is longer than its header says.
    case trailingData(path: String, expectedBytes: Int, actualBytes: Int)
    /// A binary header starts with the wrong magic number.
    case badMagic(path: String, expected: UInt32, found: UInt32)
    /// A header (or a decompressed stream) claims more data than the caller's limit allows.
    /// Thrown before anything of that size is allocated.
    case tooLarge(path: String, claimed: String, limit: Int)
    /// The bytes do not follow the format (corrupt gzip, bad tar checksum, wrong array shape, ...).
    case malformed(path: String, reason: String)
    /// Two files that must describe the same samples disagree on the count.
    case countMismatch(path: String, count: Int, otherPath: String, otherCount: Int)
    /// A label is outside `0..<classCount`.
    case labelOutOfRange(path: String, index: Int, label: Int, classCount: Int)
    /// A list file names a class that is not part of the dataset.
    case unknownClass(path: String, line: Int, name: String)
    /// The split has no samples at all.
    case empty(path: String, what: String)

    public var description: String {
        switch self {
        case let .missingFile(path, expected):
            return "\(path): file not found (expected \(expected))"
        case let .missingDirectory(path, expected):
            return "\(path): folder not found (expected \(expected))"
        case let .unreadable(path, reason):
            return "\(path): cannot read: \(reason)"
        case let .truncated(path, expected, actual):
            return "\(path): truncated: expected \(expected) bytes, found \(actual)"
        case let .trailingData(path, expected, actual):
            return "\(path): unexpected trailing data: expected \(expected) bytes, found \(actual)"
        case let .badMagic(path, expected, found):
            return "\(path): bad magic number 0x\(hex8(found)) (expected 0x\(hex8(expected)))"
        case let .tooLarge(path, claimed, limit):
            return "\(path): refusing to load: \(claimed) exceeds the limit of \(limit) bytes"
        case let .malformed(path, reason):
            return "\(path): malformed: \(reason)"
        case let .countMismatch(path, count, otherPath, otherCount):
            return "\(path): has \(count) entries but \(otherPath) has \(otherCount)"
        case let .labelOutOfRange(path, index, label, classCount):
            return "\(path): label \(label) of sample \(index) is outside 0..<\(classCount)"
        case let .unknownClass(path, line, name):
            return "\(path):\(line): unknown class '\(name)'"
        case let .empty(path, what):
            return "\(path): no samples found (\(what))"
        }
    }
}

private func hex8(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, 8 - s.count)) + s
}

