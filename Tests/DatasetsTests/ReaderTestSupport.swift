// Shared helpers for the dataset reader tests: temp folders, fixture paths, and tiny writers for the
// formats under test (IDX, ustar) so fixtures are produced at run time in the real formats.

import Foundation
import Testing
@testable import Datasets

enum ReaderFixtures {
    /// Tests/Fixtures/datasets (committed files made by tools/make_dataset_fixtures.py).
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent("datasets")

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    struct SplitExpectation: Decodable {
        let labels: [Int]
        let coarse_labels: [Int]?
        let hwc_checksums: [UInt32]
    }

    struct VariantExpectation: Decodable {
        let train: SplitExpectation
        let test: SplitExpectation
        let class_names: [String]
        let long_member: String
    }

    struct Expected: Decodable {
        let cifar10: VariantExpectation
        let cifar100: VariantExpectation
        let cifar100_py3_protocol2: SplitExpectation
    }

    static func expected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: url("expected.json")))
    }
}

/// Minimal ustar writer. `type` "0" file, "5" directory, "2" symlink, "L" GNU long name, "x" pax header.
struct ReaderTarBuilder {
    private(set) var data = Data()

    mutating func add(_ name: String, _ content: Data = Data(), type: Character = "0", prefix: String = "",
                      corruptChecksum: Bool = false) {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ s: String, _ at: Int, _ len: Int) {
            for (i, b) in s.utf8.prefix(len).enumerated() { h[at + i] = b }
        }
        func octal(_ v: Int, _ at: Int, _ len: Int) {
            let s = String(v, radix: 8)
            put(String(repeating: "0", count: len - 1 - s.count) + s, at, len - 1)
        }
        put(name, 0, 100)
        octal(type == "5" ? 0o755 : 0o644, 100, 8)
        octal(0, 108, 8)
        octal(0, 116, 8)
        let hasData = type == "0" || type == "L" || type == "x"
        octal(hasData ? content.count : 0, 124, 12)
        octal(1_262_304_000, 136, 12)
        h[156] = type.asciiValue!
        if type == "2" { put("target", 157, 100) }
        put("ustar\0", 257, 6)
        put("00", 263, 2)
        put(prefix, 345, 155)
        for i in 148 ..< 156 { h[i] = 0x20 }
        var sum = h.reduce(0) { $0 + Int($1) }
        if corruptChecksum { sum += 1 }
        let s = String(sum, radix: 8)
        put(String(repeating: "0", count: 6 - s.count) + s, 148, 6)
        h[154] = 0
        h[155] = 0x20
        data.append(contentsOf: h)
        if hasData {
            data.append(content)
            let pad = (512 - content.count % 512) % 512
            data.append(contentsOf: [UInt8](repeating: 0, count: pad))
        }
    }

    /// Regular file whose name needs a GNU long-name record.
    mutating func addLongName(_ name: String, _ content: Data) {
        add("././@LongLink", Data(name.utf8) + Data([0]), type: "L")
        add(String(name.prefix(99)), content)
    }

    /// Regular file named through a pax extended header.
    mutating func addPaxPath(_ name: String, _ content: Data) {
        let body = " path=\(name)\n"
        var length = body.utf8.count + 1
        while String(length).count + body.utf8.count != length { length = String(length).count + body.utf8.count }
        add("PaxHeader/x", Data("\(length)\(body)".utf8), type: "x")
        add("truncated-name", content)
    }

    /// Two zero blocks.
    mutating func finish() { data.append(Data(count: 1024)) }
}

extension ReaderFixtures {
    /// A fresh temporary folder, removed when the test's closure returns.
    static func withTempDirectory<T>(_ body: (URL) throws -> T) throws -> T {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("clipcl-datasets-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        return try body(dir)
    }

    /// Writes `data` at `dir/relativePath`, creating folders.
    @discardableResult
    static func writeFile(_ dir: URL, _ relativePath: String, _ data: Data = Data()) throws -> URL {
        let url = dir.appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url)
        return url
    }

    static func writeText(_ dir: URL, _ relativePath: String, _ text: String) throws {
        try writeFile(dir, relativePath, Data(text.utf8))
    }

    /// IDX bytes: big-endian magic and dimensions, then the payload.
    static func idxData(magic: UInt32, dims: [UInt32], payload: [UInt8]) -> Data {
        var out = Data()
        for v in [magic] + dims {
            out.append(contentsOf: [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)])
        }
        out.append(contentsOf: payload)
        return out
    }

    /// sum((k + 1) · hwc[k]) mod 2^32 over one image: the checksum in Tests/Fixtures/datasets/expected.json.
    static func hwcChecksum(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var sum: UInt64 = 0
        for (k, b) in bytes.enumerated() { sum &+= UInt64(k + 1) * UInt64(b) }
        return UInt32(truncatingIfNeeded: sum)
    }

    /// Writes every regular file of a tar.gz below `dir` (test helper; the library itself never writes entries).
    static func extract(_ archive: URL, into dir: URL) throws {
        for entry in try TarReader.regularFiles(at: archive) where ReaderFiles.isSafeRelativePath(entry.path) {
            try writeFile(dir, entry.path, entry.data)
        }
    }
}
