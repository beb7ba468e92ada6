// Fixtures for the feature-cache tests: the tiny real-format checkpoint, small datasets written on the fly,
// directory snapshots for bit-identity checks, and the optional external tools (python3, the clipcl binary).

import CLIP
import Datasets
import Foundation
import TestSupport
import TensorKit

enum CacheFixtures {
    /// Tests/ of this package.
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let packageRoot = testsDirectory.deletingLastPathComponent()
    static let modelPath = testsDirectory.appendingPathComponent("Fixtures/clip/hf-tiny").path
    static let imagesDirectory = testsDirectory.appendingPathComponent("Fixtures/clip/images")

    static func loadModel() throws -> LoadedCLIP { try ModelSource.load(modelPath) }

    static func checkpointSHA(_ clip: LoadedCLIP) throws -> String {
        try FeatureCache.checkpointSHA256(weightFiles: clip.weightFiles)
    }

    static func temporaryDirectory(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("clipcl-fc-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// An MNIST-layout folder with `count` deterministic 28×28 images (uncompressed IDX) in the train and test files.
    static func writeMNIST(count: Int, into dir: URL) throws {
        var pixels = [UInt8](repeating: 0, count: count * 28 * 28)
        var rng = RandomGenerator(seed: 7)
        for i in 0..<count {
            // A bright square at an image-dependent place on a noisy background.
            let x0 = (i * 5) % 20, y0 = (i * 3) % 20
            for y in 0..<28 {
                for x in 0..<28 {
                    let inside = x >= x0 && x < x0 + 8 && y >= y0 && y < y0 + 8
                    pixels[i * 784 + y * 28 + x] = inside ? 255 : UInt8(rng.int(below: 64))
                }
            }
        }
        let labels = (0..<count).map { UInt8($0 % 10) }
        for prefix in ["train", "t10k"] {
            try idx(magic: 0x0000_0803, dims: [UInt32(count), 28, 28], payload: pixels)
                .write(to: dir.appendingPathComponent("\(prefix)-images-idx3-ubyte"))
            try idx(magic: 0x0000_0801, dims: [UInt32(count)], payload: labels)
                .write(to: dir.appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
        }
    }

    static func idx(magic: UInt32, dims: [UInt32], payload: [UInt8]) -> Data {
        var d = Data()
        for v in [magic] + dims { d.append(contentsOf: [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]) }
        d.append(contentsOf: payload)
        return d
    }

    /// A flat class-folder tree (`cat/`, `dog/`) built from the PNG/JPEG fixtures, plus one corrupt file
    /// `dog/broken.png` (a PNG signature followed by garbage). Returns the id of the corrupt file.
    @discardableResult
    static func writeFolder(into dir: URL) throws -> String {
        let fm = FileManager.default
        let files = try fm.contentsOfDirectory(atPath: imagesDirectory.path)
            .filter { $0.hasSuffix(".png") || $0.hasSuffix(".jpg") }.sorted()
        for (i, f) in files.enumerated() {
            let cls = dir.appendingPathComponent(i % 2 == 0 ? "cat" : "dog")
            try fm.createDirectory(at: cls, withIntermediateDirectories: true)
            try fm.copyItem(at: imagesDirectory.appendingPathComponent(f), to: cls.appendingPathComponent(f))
        }
        var broken = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        broken.append(Data((0..<200).map { UInt8(truncatingIfNeeded: $0 &* 37) }))
        try broken.write(to: dir.appendingPathComponent("dog/broken.png"))
        return "dog/broken.png"
    }

    static func mnistSamples(count: Int, dir: URL) throws -> LabeledSamples {
        try writeMNIST(count: count, into: dir)
        return try Benchmark.named("mnist").load(split: .train, root: dir)
    }

    static func extractor(_ clip: LoadedCLIP, sha: String, samples: LabeledSamples, dataset: String = "mnist",
                          configure: (inout ExtractionOptions) -> Void = { _ in }) throws -> FeatureExtractor {
        let b = try Benchmark.named(dataset)
        var o = ExtractionOptions(split: .train, templates: try b.templates())
        o.chunkSize = 8
        o.batchSize = 3
        configure(&o)
        return try FeatureExtractor(clip: clip, checkpointSHA256: sha, benchmark: b, samples: samples, options: o)
    }

    /// Every file in `dir` (hidden ones included) → its bytes.
    static func snapshot(_ dir: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            out[name] = try Data(contentsOf: dir.appendingPathComponent(name))
        }
        return out
    }

    /// A readable description of how two snapshots differ (nil when identical).
    static func difference(_ a: [String: Data], _ b: [String: Data]) -> String? {
        let names = Set(a.keys).union(b.keys).sorted()
        let diffs = names.filter { a[$0] != b[$0] }.map { n in "\(n): \(a[n]?.count ?? -1) vs \(b[n]?.count ?? -1) bytes" }
        return diffs.isEmpty ? nil : diffs.joined(separator: "; ")
    }

    // MARK: - External tools

    /// A Python interpreter with `safetensors` and `numpy` (see `TestSupport.python(importing:)`).
    static let python = TestSupport.python(importing: "safetensors.numpy, numpy")

    static func pythonCommand(_ script: String, _ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        guard let py = python else { throw FeatureCacheError("", "no python") }
        return try TestSupport.run(py, ["-c", script] + args)
    }
}
