// Reading a feature cache: meta.json is parsed at open; shards are mapped and verified only when a
// split is materialised, so opening a 1M-image cache costs one small JSON file and a few stats.

import CLIP
import Dispatch
import Foundation
import TensorKit

/// Text side of a cache (`text.safetensors`).
public struct CachedTextFeatures: Sendable {
    /// [C, D] Float32: per class, the templates' L2-normalised embeddings averaged and normalised again (CLIP).
    public var classifier: Tensor
    /// [T, C, D] Float32: the L2-normalised embedding of every template × class.
    public var perTemplate: Tensor
    public var templates: [String]
}

/// A feature cache opened for reading (format: README.md, "Feature cache").
public final class FeatureCache: @unchecked Sendable {
    public let directory: URL
    public let meta: FeatureCacheMeta

    private init(directory: URL, meta: FeatureCacheMeta) {
        self.directory = directory
        self.meta = meta
    }

    /// Reads and validates `dir/meta.json` and checks that every shard file of each complete split exists.
    /// Nothing else is read: shards are checked (header + SHA-256) when a split is read.
    public static func open(_ dir: URL) throws -> FeatureCache {
        let metaURL = dir.appendingPathComponent(FeatureCacheFiles.metaName)
        guard FeatureCacheFiles.fileExists(metaURL) else {
            var isDir: ObjCBool = false
            if !FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir) || !isDir.boolValue {
                throw FeatureCacheError(dir, "no such feature cache folder")
            }
            throw FeatureCacheError(metaURL, "file not found (not a clipcl feature cache, or its extraction never started)")
        }
        let meta = try FeatureCacheMeta.read(metaURL)
        let cache = FeatureCache(directory: dir, meta: meta)
        for (name, info) in meta.splits.sorted(by: { $0.key < $1.key }) where info.complete {
            let split = DatasetSplit(rawValue: name)!
            for c in 0..<info.shards where info.part?.owns(chunk: c) ?? true {
                let url = cache.shardURL(split, c)
                guard FeatureCacheFiles.fileExists(url) else {
                    throw FeatureCacheError(url, "missing shard (meta.json says split \(name) is complete with \(info.shards) shards)")
                }
            }
        }
        return cache
    }

    public func shardURL(_ split: DatasetSplit, _ chunk: Int) -> URL {
        directory.appendingPathComponent(FeatureCacheFiles.shardName(split, chunk))
    }

    /// The split's state, or an error if the cache does not hold it completely (one line, naming meta.json).
    public func completeSplit(_ split: DatasetSplit) throws -> FeatureSplitInfo {
        let metaURL = directory.appendingPathComponent(FeatureCacheFiles.metaName)
        guard let info = meta.split(split) else {
            let have = meta.splits.keys.sorted()
            throw FeatureCacheError(metaURL, "no '\(split.rawValue)' split in this cache (it has: \(have.isEmpty ? "none" : have.joined(separator: ", ")))")
        }
        if let part = info.part {
            throw FeatureCacheError(metaURL, "split \(split.rawValue) is part \(part) of a sharded extraction; join the parts with clipcl extract --merge")
        }
        guard info.complete else {
            throw FeatureCacheError(metaURL, "split \(split.rawValue) is incomplete (extraction interrupted); rerun the same clipcl extract command to finish it")
        }
        return info
    }

    /// Opens shard `chunk` of `split` (header checks only; call `verify()` before using its data).
    public func shard(_ split: DatasetSplit, _ chunk: Int) throws -> FeatureShard {
        let s = try FeatureShard.open(shardURL(split, chunk), split: split, chunk: chunk, dim: meta.embedDim,
                                      dtype: meta.dtype, views: meta.views)
        guard s.firstIndex == chunk * meta.chunkSize else {
            throw FeatureCacheError(s.url, "__metadata__ first_index is \(s.firstIndex), expected \(chunk * meta.chunkSize) (chunk \(chunk) × chunk_size \(meta.chunkSize))")
        }
        return s
    }

    /// The whole split in dataset order: features [N, D] Float32 (converted from F16 if stored so),
    /// labels and ids. Every shard's SHA-256 is verified first; a mismatch throws an error naming the shard.
    public func split(_ split: DatasetSplit) throws -> (features: Tensor, labels: [Int], ids: [String]) {
        let r = try read(split, name: "features", width: 1)
        return (r.tensor, r.labels, r.ids)
    }

    /// The augmented views [N, K−1, D] of a cache made with `--views K` (nil when K = 1), in the order of `split(_:)`.
    public func viewFeatures(_ split: DatasetSplit) throws -> Tensor? {
        guard meta.views > 1 else { return nil }
        return try read(split, name: "view_features", width: meta.views - 1).tensor
    }

    private func read(_ split: DatasetSplit, name: String, width: Int) throws -> (tensor: Tensor, labels: [Int], ids: [String]) {
        let info = try completeSplit(split)
        let d = meta.embedDim
        let rowSize = width * d
        let shards = try (0..<info.shards).map { try shard(split, $0) }
        var prefix = [0]
        for s in shards { prefix.append(prefix.last! + s.count) }
        let offsets = prefix
        let total = offsets.last!
        guard total == info.samples else {
            throw FeatureCacheError(directory.appendingPathComponent(FeatureCacheFiles.metaName),
                                    "split \(split.rawValue) says \(info.samples) samples but its shards hold \(total)")
        }
        // Hash, convert and copy the shards on all cores; each worker fills its own rows.
        let classCount = meta.classNames.count
        var perShard: Result<[[Int]], any Error> = .success([])
        let storage = [Float](unsafeUninitializedCapacity: total * rowSize) { buffer, initialized in
            let out = SendableBuffer(buffer)
            perShard = Result {
                try Parallelism.map(shards.count) { k in
                    let s = shards[k]
                    try s.verify()
                    let rows = UnsafeMutableBufferPointer(rebasing: out.buffer[(offsets[k] * rowSize)..<(offsets[k + 1] * rowSize)])
                    try s.copy(name, into: rows)
                    return try s.labels(classCount: classCount)
                }
            }
            initialized = total * rowSize
        }
        let labels = try perShard.get().flatMap { $0 }
        let ids = shards.flatMap(\.ids)
        let shape = width == 1 ? [total, d] : [total, width, d]
        return (Tensor(unchecked: shape, storage: storage), labels, ids)
    }

    /// `text.safetensors`, checked (shapes, templates and its SHA-256).
    public func textFeatures() throws -> CachedTextFeatures {
        try TextFeatureFile.read(directory.appendingPathComponent(FeatureCacheFiles.textName), meta: meta)
    }

    /// Verifies every shard of every complete split (headers, checksums, ids continuity) and the text file.
    /// Returns the number of shards checked.
    @discardableResult
    public func verifyAll() throws -> Int {
        var n = 0
        for name in meta.splits.keys.sorted() {
            let split = DatasetSplit(rawValue: name)!
            guard let info = meta.split(split), info.complete else { continue }
            var rows = 0
            var skipped: [String] = []
            let shards = try (0..<info.shards).filter { info.part?.owns(chunk: $0) ?? true }.map { try shard(split, $0) }
            let classCount = meta.classNames.count
            _ = try Parallelism.map(shards.count) { k in
                try shards[k].verify()
                _ = try shards[k].labels(classCount: classCount)
            }
            for s in shards {
                let expected = min(meta.chunkSize, info.datasetSamples - s.chunk * meta.chunkSize)
                guard s.count + s.skipped.count == expected else {
                    throw FeatureCacheError(s.url, "holds \(s.count) rows + \(s.skipped.count) skipped ids, expected \(expected) images")
                }
                rows += s.count
                skipped += s.skipped
                n += 1
            }
            if info.part == nil {
                guard rows == info.samples, skipped == info.skipped else {
                    throw FeatureCacheError(directory.appendingPathComponent(FeatureCacheFiles.metaName),
                                            "split \(name): samples/skipped do not match the shards (\(rows) rows, \(skipped.count) skipped)")
                }
            }
        }
        _ = try textFeatures()
        return n
    }
}

/// `text.safetensors`: writing and checked reading.
enum TextFeatureFile {
    static func writer(classifier: Tensor, perTemplate: Tensor, templates: [String], classNames: [String]) throws -> SafeTensorsWriter {
        var hash = SHA256()
        classifier.storage.withUnsafeBytes { hash.update($0) }
        perTemplate.storage.withUnsafeBytes { hash.update($0) }
        var w = SafeTensorsWriter()
        try w.add("text_features", classifier, as: .f32)
        try w.add("text_features_per_template", perTemplate, as: .f32)
        w.metadata = [
            "format": FeatureCacheMeta.formatName,
            "templates": FeatureCacheFiles.jsonArray(templates),
            "class_names": FeatureCacheFiles.jsonArray(classNames),
            "sha256": hash.hexDigest,
        ]
        return w
    }

    static func write(_ url: URL, classifier: Tensor, perTemplate: Tensor, templates: [String], classNames: [String]) throws {
        do {
            try writer(classifier: classifier, perTemplate: perTemplate, templates: templates, classNames: classNames).write(to: url)
        } catch let e as SafeTensorsError {
            throw FeatureCacheError(url, "cannot write: \(e.description)")
        }
    }

    static func read(_ url: URL, meta: FeatureCacheMeta) throws -> CachedTextFeatures {
        guard FeatureCacheFiles.fileExists(url) else { throw FeatureCacheError(url, "file not found (the cache has no text features)") }
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(contentsOf: url) } catch let e as SafeTensorsError {
            throw FeatureCacheError(url, "unreadable: \(e.message)")
        }
        let c = meta.classNames.count, d = meta.embedDim
        guard let t = file.entry("text_features"), t.dtype == .f32, t.shape == [c, d] else {
            throw FeatureCacheError(url, "text_features must be F32 [\(c), \(d)] (classes × embed_dim), found \(file.entry("text_features").map { "\($0.dtype.rawValue) \($0.shape)" } ?? "none")")
        }
        guard let p = file.entry("text_features_per_template"), p.dtype == .f32, p.rank == 3, p.shape[1] == c, p.shape[2] == d else {
            throw FeatureCacheError(url, "text_features_per_template must be F32 [T, \(c), \(d)]")
        }
        let templates = try FeatureCacheFiles.parseJSONArray(file.metadata["templates"], file: url, key: "templates")
        guard templates.count == p.shape[0] || (templates.isEmpty && p.shape[0] == 1) else {
            throw FeatureCacheError(url, "\(templates.count) templates in __metadata__ but text_features_per_template has \(p.shape[0])")
        }
        if let sha = file.metadata["sha256"] {
            var hash = SHA256()
            try file.withRawBytes("text_features") { hash.update($0) }
            try file.withRawBytes("text_features_per_template") { hash.update($0) }
            guard hash.hexDigest == sha else { throw FeatureCacheError(url, "checksum mismatch (the file is corrupt)") }
        }
        return CachedTextFeatures(classifier: try file.tensor("text_features"), perTemplate: try file.tensor("text_features_per_template"),
                                  templates: templates)
    }
}

extension SafeTensorsEntry {
    var rank: Int { shape.count }
}

extension FeatureCache {
    /// SHA-256 identifying a checkpoint: for a file of the Hugging Face cache, the LFS sha256 its blob is named by
    /// (announced by the hub, checked by the download), else computed from the file. Several weight files (a sharded checkpoint): SHA-256 of
    /// the lines `<sha256>  <file name>\n`, sorted by file name.
    /// The identity of a loaded model: its checkpoint hash, or for a `random:` model the hash of its id.
    public static func checkpointSHA256(of clip: LoadedCLIP) throws -> String {
        clip.weightFiles.isEmpty && ModelSource.isRandom(clip.modelID)
            ? SHA256.hex(of: Data(clip.modelID.utf8)) : try checkpointSHA256(weightFiles: clip.weightFiles)
    }

    public static func checkpointSHA256(weightFiles: [URL]) throws -> String {
        func one(_ url: URL) throws -> String {
            if let s = HubClient.recordedSHA256(of: url) { return s }
            do { return try SHA256.hex(ofFile: url) } catch {
                throw FeatureCacheError(url, "cannot hash the checkpoint (\(FeatureCacheFiles.reason(error)))")
            }
        }
        guard !weightFiles.isEmpty else { throw FeatureCacheError("", "the model has no weight files to identify it") }
        if weightFiles.count == 1 { return try one(weightFiles[0]) }
        let lines = try weightFiles.sorted { $0.lastPathComponent < $1.lastPathComponent }
            .map { "\(try one($0))  \($0.lastPathComponent)\n" }.joined()
        return SHA256.hex(of: Data(lines.utf8))
    }
}

/// A buffer handed to concurrent workers that write disjoint ranges.
struct SendableBuffer<T>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<T>
    init(_ buffer: UnsafeMutableBufferPointer<T>) { self.buffer = buffer }
}

