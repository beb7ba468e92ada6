// The on-disk format of a feature cache (documented in README.md, "Feature cache"):
//   meta.json                 what the cache holds (FeatureCacheMeta)
//   text.safetensors          text_features [C, D] F32, text_features_per_template [T, C, D] F32
//   <split>-NNNNN.safetensors one chunk of `chunk_size` dataset images: features [n, D] F16|F32, labels [n] I64,
//                             optional view_features [n, K-1, D]; __metadata__ ids/first_index/sha256/...

#if canImport(Glibc)
import Glibc
#endif
import CLIP
import Foundation
import TensorKit

/// A failure reading, validating or writing a feature cache. `description` is one line that starts with the
/// file (or folder) involved.
public struct FeatureCacheError: Error, CustomStringConvertible, Sendable, Equatable {
    public var path: String
    public var message: String
    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }
    public init(_ url: URL, _ message: String) { self.init(url.path, message) }
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// Storage type of `features` / `view_features` in the shards.
public enum FeatureDType: String, Codable, Sendable, CaseIterable {
    case f16 = "F16"
    case f32 = "F32"

    public var safeTensors: SafeTensorsDType { self == .f16 ? .f16 : .f32 }
    public var byteSize: Int { self == .f16 ? 2 : 4 }

    /// `f16` / `F16` / `float16` / `half`, `f32` / `F32` / `float32` / `float`.
    public init?(parsing s: String) {
        switch s.lowercased() {
        case "f16", "float16", "half", "fp16": self = .f16
        case "f32", "float32", "float", "fp32": self = .f32
        default: return nil
        }
    }
}

/// Which part of a sharded extraction a directory holds: chunks `c` with `c % count == index`.
public struct CachePart: Codable, Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int
    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Parses `i/n` with `0 <= i < n`.
    public init?(parsing s: String) {
        let p = s.split(separator: "/", omittingEmptySubsequences: false)
        guard p.count == 2, let i = Int(p[0]), let n = Int(p[1]), n >= 1, i >= 0, i < n else { return nil }
        self.init(index: i, count: n)
    }

    public func owns(chunk c: Int) -> Bool { c % count == index }
    public var description: String { "\(index)/\(count)" }
}

/// The state of one split in `meta.json`.
public struct FeatureSplitInfo: Codable, Sendable, Equatable {
    /// Rows stored (images encoded): `dataset_samples - skipped.count` once complete.
    public var samples: Int
    /// Images of the split that were considered (after `--limit`), skipped ones included.
    public var datasetSamples: Int
    /// The `--limit` used, if any.
    public var limit: Int?
    /// Number of shard files of the whole split: ceil(dataset_samples / chunk_size).
    public var shards: Int
    /// Ids of the images that could not be decoded (skipped with a warning), in dataset order.
    public var skipped: [String]
    /// True once every shard of the split (of this part, for a part directory) is written.
    public var complete: Bool
    /// Set in the directory of one `--shard i/n` process; absent in a merged or single-run cache.
    public var part: CachePart?

    public init(samples: Int, datasetSamples: Int, limit: Int?, shards: Int, skipped: [String], complete: Bool,
                part: CachePart?) {
        self.samples = samples
        self.datasetSamples = datasetSamples
        self.limit = limit
        self.shards = shards
        self.skipped = skipped
        self.complete = complete
        self.part = part
    }

    enum CodingKeys: String, CodingKey {
        case samples, datasetSamples = "dataset_samples", limit, shards, skipped, complete, part
    }
}

/// `meta.json`.
public struct FeatureCacheMeta: Codable, Sendable, Equatable {
    public static let formatName = "clipcl-features"
    public static let currentVersion = 1

    public var format: String = FeatureCacheMeta.formatName
    public var version: Int = FeatureCacheMeta.currentVersion
    /// Benchmark name (`cifar100`, `imagenet-r`, `folder`, …) or a free name for imported caches.
    public var dataset: String
    /// Name of label `i` at index `i` (label order, not class order).
    public var classNames: [String]
    /// The published class order of the benchmark (a permutation of the labels), when known.
    public var classOrder: [Int]?
    /// exp(logit_scale) of the model, e.g. 100.
    public var logitScale: Float
    public var modelID: String
    /// SHA-256 of the checkpoint weights (see `FeatureCache.checkpointSHA256`); nil for imported features.
    public var checkpointSHA256: String?
    /// The hub commit the checkpoint was downloaded at (`X-Repo-Commit`); nil for local files and imported features.
    public var checkpointRevision: String?
    /// Storage type of the features in the shards.
    public var dtype: FeatureDType
    /// Precision of the image tower's matmuls during extraction (`--dtype`); nil for imported features.
    public var computeDType: ComputeDType?
    /// The image preprocessing used; nil for imported features.
    public var preprocessing: PreprocessConfig?
    public var embedDim: Int
    public var chunkSize: Int
    /// Images per forward pass (batches start at chunk starts); nil for imported features.
    public var batchSize: Int?
    /// Views per image: 1 = plain features; K > 1 adds `view_features` [n, K-1, D] to every shard.
    public var views: Int
    /// The prompt templates of `text.safetensors`.
    public var templates: [String]
    /// "train" / "test" → state.
    public var splits: [String: FeatureSplitInfo]

    public init(dataset: String, classNames: [String], classOrder: [Int]?, logitScale: Float, modelID: String,
                checkpointSHA256: String?, dtype: FeatureDType, computeDType: ComputeDType?, preprocessing: PreprocessConfig?, embedDim: Int,
                chunkSize: Int, batchSize: Int?, views: Int, templates: [String], splits: [String: FeatureSplitInfo] = [:],
                checkpointRevision: String? = nil) {
        self.dataset = dataset
        self.classNames = classNames
        self.classOrder = classOrder
        self.logitScale = logitScale
        self.modelID = modelID
        self.checkpointSHA256 = checkpointSHA256
        self.checkpointRevision = checkpointRevision
        self.dtype = dtype
        self.computeDType = computeDType
        self.preprocessing = preprocessing
        self.embedDim = embedDim
        self.chunkSize = chunkSize
        self.batchSize = batchSize
        self.views = views
        self.templates = templates
        self.splits = splits
    }

    enum CodingKeys: String, CodingKey {
        case format, version, dataset, classNames = "class_names", classOrder = "class_order", logitScale = "logit_scale"
        case modelID = "model_id", checkpointSHA256 = "checkpoint_sha256", checkpointRevision = "checkpoint_revision", dtype, computeDType = "compute_dtype", preprocessing
        case embedDim = "embed_dim", chunkSize = "chunk_size", batchSize = "batch_size", views, templates, splits
    }

    public func split(_ s: DatasetSplit) -> FeatureSplitInfo? { splits[s.rawValue] }

    /// The first property in which `other` (a new run) differs from this cache's identity, as a phrase
    /// ("checkpoint sha256 abc… vs def…"), or nil when they may share the cache. `model_id` is not
    /// compared (the same weights may be reached by several paths); the checkpoint hash is.
    public func identityDifference(_ other: FeatureCacheMeta) -> String? {
        func short(_ s: String?) -> String { s.map { String($0.prefix(16)) + ($0.count > 16 ? "…" : "") } ?? "none" }
        if format != other.format || version != other.version {
            return "format \(format) v\(version) vs \(other.format) v\(other.version)"
        }
        if dataset != other.dataset { return "dataset '\(dataset)' vs '\(other.dataset)'" }
        if checkpointSHA256 != other.checkpointSHA256 {
            return "model: checkpoint sha256 \(short(checkpointSHA256)) (\(modelID)) vs \(short(other.checkpointSHA256)) (\(other.modelID))"
        }
        if preprocessing != other.preprocessing {
            return "preprocessing \(Self.describe(preprocessing)) vs \(Self.describe(other.preprocessing))"
        }
        if dtype != other.dtype { return "dtype \(dtype.rawValue) vs \(other.dtype.rawValue) (--storage)" }
        if computeDType != other.computeDType {
            return "compute dtype \(computeDType?.rawValue ?? "none") vs \(other.computeDType?.rawValue ?? "none") (--dtype)"
        }
        if embedDim != other.embedDim { return "embed_dim \(embedDim) vs \(other.embedDim)" }
        if chunkSize != other.chunkSize { return "chunk_size \(chunkSize) vs \(other.chunkSize) (--chunk-size)" }
        if batchSize != other.batchSize {
            return "batch_size \(batchSize.map(String.init) ?? "none") vs \(other.batchSize.map(String.init) ?? "none") (--batch-size; "
                + "features depend on the batch composition, pass the original value)"
        }
        if views != other.views { return "views \(views) vs \(other.views) (--views)" }
        if classNames != other.classNames { return "class names (\(classNames.count) vs \(other.classNames.count) names, or differently spelled)" }
        if classOrder != other.classOrder { return "class order" }
        if logitScale != other.logitScale { return "logit_scale \(logitScale) vs \(other.logitScale)" }
        if templates != other.templates {
            return "templates (\(templates.count): '\(templates.first ?? "")'… vs \(other.templates.count): '\(other.templates.first ?? "")'…; --templates)"
        }
        return nil
    }

    static func describe(_ p: PreprocessConfig?) -> String {
        guard let p else { return "none" }
        return "{resize \(p.resizeShortestEdge), crop \(p.cropHeight)x\(p.cropWidth), \(p.cropRounding.rawValue), \(p.alpha.rawValue), "
            + "mean \(p.mean), std \(p.std)}"
    }

    // MARK: - Encoding

    /// Canonical bytes of meta.json: sorted keys, two-space indentation, final newline. The same meta
    /// always gives the same bytes (nothing time- or run-dependent is stored).
    public func encoded() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var d = try e.encode(self)
        d.append(0x0A)
        return d
    }

    public static func read(_ url: URL) throws -> FeatureCacheMeta {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw FeatureCacheError(url, "cannot read (\(FeatureCacheFiles.reason(error)))")
        }
        if let head = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            if let f = head["format"] as? String, f != formatName {
                throw FeatureCacheError(url, "format is '\(f)', expected '\(formatName)'")
            }
            if let v = head["version"] as? Int, v != currentVersion {
                throw FeatureCacheError(url, "format version \(v) is not supported (this clipcl reads version \(currentVersion))")
            }
        }
        let meta: FeatureCacheMeta
        do { meta = try JSONDecoder().decode(FeatureCacheMeta.self, from: data) } catch {
            throw FeatureCacheError(url, "not a valid clipcl-features meta.json (\(FeatureCacheFiles.decodingReason(error)))")
        }
        guard meta.format == formatName else { throw FeatureCacheError(url, "format is '\(meta.format)', expected '\(formatName)'") }
        guard meta.version == currentVersion else {
            throw FeatureCacheError(url, "format version \(meta.version) is not supported (this clipcl reads version \(currentVersion))")
        }
        guard meta.embedDim > 0, meta.chunkSize > 0, meta.views >= 1, !meta.classNames.isEmpty else {
            throw FeatureCacheError(url, "embed_dim, chunk_size, views must be positive and class_names non-empty")
        }
        for (name, s) in meta.splits {
            guard DatasetSplit(rawValue: name) != nil else { throw FeatureCacheError(url, "unknown split '\(name)' in splits") }
            let expected = (s.datasetSamples + meta.chunkSize - 1) / meta.chunkSize
            guard s.datasetSamples >= 0, s.samples >= 0, s.shards == expected else {
                throw FeatureCacheError(url, "split \(name): shards \(s.shards) does not match dataset_samples \(s.datasetSamples) / chunk_size \(meta.chunkSize)")
            }
        }
        return meta
    }
}

/// File names and small file-system helpers shared by the reader and the writers.
public enum FeatureCacheFiles {
    public static let metaName = "meta.json"
    public static let textName = "text.safetensors"
    public static let lockName = ".lock"

    /// `train-00000.safetensors`: split, chunk index zero-padded to 5 digits (more digits past 99999).
    public static func shardName(_ split: DatasetSplit, _ chunk: Int) -> String {
        let s = String(chunk)
        return "\(split.rawValue)-" + String(repeating: "0", count: max(0, 5 - s.count)) + s + ".safetensors"
    }

    /// The chunk index of a shard file name of `split`, or nil.
    public static func chunkIndex(of name: String, split: DatasetSplit) -> Int? {
        let prefix = "\(split.rawValue)-", suffix = ".safetensors"
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
        guard digits.count >= 5, digits.allSatisfy({ $0 >= "0" && $0 <= "9" }), let c = Int(digits),
              shardName(split, c) == name else { return nil }
        return c
    }

    /// Temporary files a killed writer may leave: `.<name>.tmp-<pid>-<n>` (atomic writes) and `*.tmp`.
    public static func isTemporary(_ name: String) -> Bool {
        (name.hasPrefix(".") && name.contains(".tmp")) || name.hasSuffix(".tmp")
    }

    static func reason(_ error: Error) -> String {
        if let e = error as? CocoaError, let u = e.userInfo[NSUnderlyingErrorKey] as? NSError { return u.localizedDescription }
        return (error as NSError).localizedDescription
    }

    static func decodingReason(_ error: Error) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        func path(_ c: DecodingError.Context) -> String {
            c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch e {
        case let .keyNotFound(k, c): return "missing key '\(k.stringValue)'" + (c.codingPath.isEmpty ? "" : " in \(path(c))")
        case let .typeMismatch(_, c): return "wrong type at \(path(c))"
        case let .valueNotFound(_, c): return "null at \(path(c))"
        case let .dataCorrupted(c): return c.codingPath.isEmpty ? "invalid JSON" : "invalid value at \(path(c))"
        @unknown default: return "\(error)"
        }
    }

    /// Compact JSON array of strings, slashes unescaped (used for the `ids` / `skipped` / `templates` metadata).
    public static func jsonArray(_ strings: [String]) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.withoutEscapingSlashes]
        return String(decoding: (try? e.encode(strings)) ?? Data("[]".utf8), as: UTF8.self)
    }

    static func parseJSONArray(_ s: String?, file: URL, key: String) throws -> [String] {
        guard let s else { throw FeatureCacheError(file, "__metadata__ has no '\(key)'") }
        guard let a = try? JSONDecoder().decode([String].self, from: Data(s.utf8)) else {
            throw FeatureCacheError(file, "__metadata__ '\(key)' is not a JSON array of strings")
        }
        return a
    }

    /// Writes `data` atomically: a temporary file in the same folder is written, fsynced and renamed over
    /// `url`; on any failure the temporary file is removed and `url` is untouched.
    public static func writeAtomically(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent().path
        let temp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))").path
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FeatureCacheError(url, "cannot create a temporary file in \(dir): \(errnoText())") }
        var isOpen = true
        do {
            try data.withUnsafeBytes { raw in
                guard var p = raw.baseAddress else { return }
                var left = raw.count
                while left > 0 {
                    let n = write(fd, p, left)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw FeatureCacheError(url, "write failed: \(errnoText())")
                    }
                    p += n
                    left -= n
                }
            }
            guard fsync(fd) == 0 else { throw FeatureCacheError(url, "fsync failed: \(errnoText())") }
            isOpen = false
            guard close(fd) == 0 else { throw FeatureCacheError(url, "close failed: \(errnoText())") }
            guard rename(temp, url.path) == 0 else { throw FeatureCacheError(url, "cannot rename the temporary file into place: \(errnoText())") }
        } catch {
            if isOpen { close(fd) }
            unlink(temp)
            throw error
        }
        syncDirectory(url.deletingLastPathComponent())
    }

    static func syncDirectory(_ dir: URL) {
        let fd = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    static func fileExists(_ url: URL) -> Bool {
        var st = stat()
        return stat(url.path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// Names in `dir` (empty if it does not exist).
    static func names(in dir: URL) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
    }
}
