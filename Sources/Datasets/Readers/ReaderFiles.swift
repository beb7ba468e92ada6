// File-system helpers shared by the readers: reading with path-naming errors, byte-wise sorted listings,
// text list files.

import Foundation

enum ReaderFiles {
    /// Extensions (lower-cased) that folder readers treat as images.
    static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "bmp", "gif", "webp", "tif", "tiff", "ppm", "pgm"]

    /// Byte-wise (UTF-8) order, independent of locale and Unicode normalisation (`strcmp` compares bytes as
    /// unsigned; file names cannot contain NUL). Much faster than a generic UTF-8 view comparison in debug builds.
    static func byteOrderLess(_ a: String, _ b: String) -> Bool {
        a.withCString { pa in b.withCString { pb in strcmp(pa, pb) < 0 } }
    }

    static func isDirectory(_ url: URL) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue
    }

    static func isFile(_ url: URL) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && !isDir.boolValue
    }

    /// The whole file (memory-mapped when possible). Missing or a folder → `missingFile` naming `expected`.
    static func read(_ url: URL, expected: String) throws -> Data {
        guard isFile(url) else { throw DatasetError.missingFile(path: url.path, expected: expected) }
        do {
            return try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw DatasetError.unreadable(path: url.path, reason: String(describing: error))
        }
    }

    /// Size in bytes of a regular file, or a `missingFile` error.
    static func fileSize(_ url: URL, expected: String) throws -> Int {
        guard isFile(url) else { throw DatasetError.missingFile(path: url.path, expected: expected) }
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
            return (attributes[.size] as? NSNumber)?.intValue ?? 0
        } catch {
            throw DatasetError.unreadable(path: url.path, reason: String(describing: error))
        }
    }

    static func requireDirectory(_ url: URL, expected: String) throws {
        guard isDirectory(url) else { throw DatasetError.missingDirectory(path: url.path, expected: expected) }
    }

    /// Names in `dir` (not hidden), byte-wise sorted. Missing folder → `missingDirectory`.
    static func entries(of dir: URL, expected: String) throws -> [String] {
        try requireDirectory(dir, expected: expected)
        do {
            return try FileManager.default.contentsOfDirectory(atPath: dir.path)
                .filter { !$0.hasPrefix(".") }
                .sorted(by: byteOrderLess)
        } catch {
            throw DatasetError.unreadable(path: dir.path, reason: String(describing: error))
        }
    }

    /// Sub-folder names of `dir`, byte-wise sorted.
    static func subdirectories(of dir: URL, expected: String) throws -> [String] {
        try entries(of: dir, expected: expected).filter { isDirectory(dir.appendingPathComponent($0)) }
    }

    /// Image file names directly in `dir` (by extension, case-insensitive), byte-wise sorted.
    static func imageFiles(in dir: URL, expected: String) throws -> [String] {
        try entries(of: dir, expected: expected).filter(hasImageExtension)
    }

    static func hasImageExtension(_ name: String) -> Bool {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return false }
        return imageExtensions.contains(name[name.index(after: dot)...].lowercased())
    }

    /// Lines of a UTF-8 text file with `\r` and surrounding blanks removed; empty lines dropped.
    /// Returns (1-based line number, text) pairs.
    static func lines(of url: URL, expected: String) throws -> [(number: Int, text: String)] {
        let data = try read(url, expected: expected)
        guard let text = String(data: data, encoding: .utf8) else {
            throw DatasetError.malformed(path: url.path, reason: "not UTF-8 text")
        }
        var out: [(Int, String)] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty { out.append((i + 1, trimmed)) }
        }
        return out
    }

    /// A relative path that stays below its root: not absolute, no `..` or empty components.
    static func isSafeRelativePath(_ path: String) -> Bool {
        guard !path.isEmpty, !path.hasPrefix("/") else { return false }
        return !path.split(separator: "/", omittingEmptySubsequences: false).contains { $0 == ".." || $0.isEmpty }
    }

    /// Zero-padded decimal, e.g. `padded(42, 5) == "00042"`.
    static func padded(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}

/// Answers "does `root/relative` exist?" by listing each parent folder once (cheaper than one stat per file
/// for lists of tens of thousands of files).
final class ReaderDirectoryIndex {
    private let root: URL
    private var listings: [String: Set<String>] = [:]

    init(root: URL) { self.root = root }

    func contains(_ relativePath: String) -> Bool {
        let parts = relativePath.split(separator: "/")
        guard let name = parts.last else { return false }
        let parent = parts.dropLast().joined(separator: "/")
        if listings[parent] == nil {
            let dir = parent.isEmpty ? root : root.appendingPathComponent(parent)
            listings[parent] = Set((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
        }
        return listings[parent]!.contains(String(name))
    }
}
