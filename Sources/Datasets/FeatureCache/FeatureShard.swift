// One shard file: writing (bytes + checksum) and verified reading.

import CLIP
import Foundation
import TensorKit

/// The content of one shard, ready to be written. `features` holds `ids.count × dim` Float32 values,
/// `viewFeatures` (when `views > 1`) `ids.count × (views − 1) × dim`.
struct ShardPayload {
    var split: DatasetSplit
    var chunk: Int
    var firstIndex: Int
    var ids: [String]
    var skipped: [String]
    var labels: [Int64]
    var features: [Float]
    var viewFeatures: [Float]?
    var dim: Int
    var views: Int
    var dtype: FeatureDType

    /// Stored bytes of a Float32 array in `dtype` (little-endian).
    static func bytes(_ values: [Float], as dtype: FeatureDType) -> [UInt8] {
        switch dtype {
        case .f32:
            return values.withUnsafeBytes { Array($0) }
        case .f16:
            var halves = [UInt16](repeating: 0, count: values.count)
            values.withUnsafeBufferPointer { src in
                halves.withUnsafeMutableBufferPointer { HalfFloat.convertFloatToF16(src, into: $0) }
            }
            return halves.withUnsafeBytes { Array($0) }
        }
    }

    /// The shard as a safetensors writer (deterministic bytes: no time, no host, no pid).
    func writer() throws -> SafeTensorsWriter {
        let n = ids.count
        precondition(labels.count == n && features.count == n * dim)
        let featureBytes = Self.bytes(features, as: dtype)
        let labelBytes = labels.withUnsafeBytes { Array($0) }
        var viewBytes: [UInt8]? = nil
        if views > 1, let v = viewFeatures {
            precondition(v.count == n * (views - 1) * dim)
            viewBytes = Self.bytes(v, as: dtype)
        }
        var hash = SHA256()
        featureBytes.withUnsafeBytes { hash.update($0) }
        labelBytes.withUnsafeBytes { hash.update($0) }
        viewBytes?.withUnsafeBytes { hash.update($0) }

        var w = SafeTensorsWriter()
        try w.add("features", rawBytes: featureBytes, dtype: dtype.safeTensors, shape: [n, dim])
        try w.add("labels", rawBytes: labelBytes, dtype: .i64, shape: [n])
        if let viewBytes { try w.add("view_features", rawBytes: viewBytes, dtype: dtype.safeTensors, shape: [n, views - 1, dim]) }
        w.metadata = [
            "format": FeatureCacheMeta.formatName,
            "split": split.rawValue,
            "chunk": String(chunk),
            "first_index": String(firstIndex),
            "ids": FeatureCacheFiles.jsonArray(ids),
            "skipped": FeatureCacheFiles.jsonArray(skipped),
            "sha256": hash.hexDigest,
        ]
        return w
    }

    func write(into dir: URL) throws {
        let url = dir.appendingPathComponent(FeatureCacheFiles.shardName(split, chunk))
        do { try writer().write(to: url) } catch let e as SafeTensorsError {
            throw FeatureCacheError(url, "cannot write shard: \(e.description)")
        }
    }
}

/// A memory-mapped, checked shard file. Opening parses the header and metadata only; `verify()` (called
/// by every reader before data is used) hashes the data and compares it with the stored `sha256`.
public struct FeatureShard: Sendable {
    public let url: URL
    public let file: SafeTensorsFile
    public let split: DatasetSplit
    public let chunk: Int
    /// Position in the split (dataset order, before skipping) of the chunk's first image: chunk × chunk_size.
    public let firstIndex: Int
    public let ids: [String]
    /// Ids of this chunk's images that were skipped (not decodable).
    public let skipped: [String]
    public let sha256: String
    public let dtype: FeatureDType
    public let dim: Int
    /// Extra views per image stored in `view_features` (0 when absent).
    public let extraViews: Int

    public var count: Int { ids.count }

    /// Opens and validates the header of a shard (names, dtypes, shapes, metadata). `dim`/`dtype`/`views`
    /// are the cache's values; any mismatch is an error naming the file.
    public static func open(_ url: URL, split: DatasetSplit, chunk: Int, dim: Int, dtype: FeatureDType,
                            views: Int) throws -> FeatureShard {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(contentsOf: url) } catch let e as SafeTensorsError {
            throw FeatureCacheError(url, "unreadable shard: \(e.message)")
        }
        func fail(_ m: String) -> FeatureCacheError { FeatureCacheError(url, m) }
        let md = file.metadata
        guard md["format"] == FeatureCacheMeta.formatName else { throw fail("not a clipcl-features shard (__metadata__ format is \(md["format"].map { "'\($0)'" } ?? "missing"))") }
        guard md["split"] == split.rawValue else { throw fail("__metadata__ split is '\(md["split"] ?? "")', expected '\(split.rawValue)'") }
        guard md["chunk"] == String(chunk) else { throw fail("__metadata__ chunk is '\(md["chunk"] ?? "")', expected \(chunk)") }
        guard let firstText = md["first_index"], let first = Int(firstText), first >= 0 else {
            throw fail("__metadata__ first_index is missing or not an integer")
        }
        guard let sha = md["sha256"], sha.count == 64, sha.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw fail("__metadata__ sha256 is missing or not 64 lower-case hex digits")
        }
        let ids = try FeatureCacheFiles.parseJSONArray(md["ids"], file: url, key: "ids")
        let skipped = try FeatureCacheFiles.parseJSONArray(md["skipped"], file: url, key: "skipped")
        guard let f = file.entry("features") else { throw fail("no tensor 'features'") }
        guard f.dtype == dtype.safeTensors else { throw fail("features are \(f.dtype.rawValue), the cache says \(dtype.rawValue)") }
        guard f.shape == [ids.count, dim] else { throw fail("features have shape \(f.shape), expected [\(ids.count), \(dim)] (ids × embed_dim)") }
        guard let l = file.entry("labels") else { throw fail("no tensor 'labels'") }
        guard l.dtype == .i64, l.shape == [ids.count] else { throw fail("labels are \(l.dtype.rawValue) \(l.shape), expected I64 [\(ids.count)]") }
        var extra = 0
        if let v = file.entry("view_features") {
            guard v.dtype == dtype.safeTensors, v.shape == [ids.count, views - 1, dim], views > 1 else {
                throw fail("view_features are \(v.dtype.rawValue) \(v.shape), expected \(dtype.rawValue) [\(ids.count), \(views - 1), \(dim)]")
            }
            extra = views - 1
        } else if views > 1 {
            throw fail("no tensor 'view_features' (the cache has views = \(views))")
        }
        return FeatureShard(url: url, file: file, split: split, chunk: chunk, firstIndex: first, ids: ids, skipped: skipped,
                            sha256: sha, dtype: dtype, dim: dim, extraViews: extra)
    }

    /// SHA-256 of the stored features, labels (and view_features) bytes, in that order.
    public func computedSHA256() throws -> String {
        var hash = SHA256()
        for name in ["features", "labels"] + (extraViews > 0 ? ["view_features"] : []) {
            try file.withRawBytes(name) { hash.update($0) }
        }
        return hash.hexDigest
    }

    /// Throws (naming the file) when the data does not hash to the stored `sha256`.
    public func verify() throws {
        let actual = try computedSHA256()
        guard actual == sha256 else {
            throw FeatureCacheError(url, "checksum mismatch: data hashes to \(actual.prefix(16))…, __metadata__ sha256 is "
                                    + "\(sha256.prefix(16))… (the shard is corrupt; delete it and rerun clipcl extract to rebuild it)")
        }
    }

    public func labels(classCount: Int) throws -> [Int] {
        let raw = try file.int64s("labels")
        var out = [Int](repeating: 0, count: raw.count)
        for (i, v) in raw.enumerated() {
            guard v >= 0, v < classCount else {
                throw FeatureCacheError(url, "label \(v) of row \(i) is outside 0..<\(classCount)")
            }
            out[i] = Int(v)
        }
        return out
    }

    /// Converts `name` (features or view_features) to Float32 into `out` (exactly its element count).
    func copy(_ name: String, into out: UnsafeMutableBufferPointer<Float>) throws {
        try file.withRawBytes(name) { raw in
            switch dtype {
            case .f32:
                precondition(raw.count == out.count * 4)
                UnsafeMutableRawBufferPointer(out).copyMemory(from: raw)
            case .f16:
                precondition(raw.count == out.count * 2)
                guard out.count > 0 else { return }
                guard Int(bitPattern: raw.baseAddress!) % 2 == 0 else {
                    // Only hand-made files misalign 16-bit data (clipcl and the reference writer never do).
                    for i in 0..<out.count { out[i] = HalfFloat.floatFromF16(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
                    return
                }
                let halves = UnsafeBufferPointer(start: raw.baseAddress!.assumingMemoryBound(to: UInt16.self), count: out.count)
                HalfFloat.convertF16ToFloat(halves, into: out)
            }
        }
        file.adviseDone(name)
    }

    /// This shard's features as a Float32 tensor [n, D] (call `verify()` first).
    public func features() throws -> Tensor {
        var storage = [Float](repeating: 0, count: count * dim)
        try storage.withUnsafeMutableBufferPointer { try copy("features", into: $0) }
        return Tensor(unchecked: [count, dim], storage: storage)
    }
}
