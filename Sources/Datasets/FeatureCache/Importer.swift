// Building a cache from features computed elsewhere (numpy / PyTorch exports).

import Foundation
import TensorKit

public struct ImportSplit: Sendable {
    public var features: Tensor
    public var labels: [Int]
    /// Sample ids; default `<split>/<index, 5 digits>`.
    public var ids: [String]?
    public init(features: Tensor, labels: [Int], ids: [String]? = nil) {
        self.features = features
        self.labels = labels
        self.ids = ids
    }
}

public struct ImportSummary: Sendable, Encodable {
    public var train: Int?
    public var test: Int?
    public var classes: Int
    public var embedDim: Int
    public var shards: Int
    public var seconds: Double
    enum CodingKeys: String, CodingKey { case train, test, classes, embedDim = "embed_dim", shards, seconds }
}

public enum FeatureCacheImporter {
    /// Writes a cache in the standard format into `dir` (must be empty or absent): chunked shards with
    /// checksums, text.safetensors and meta.json (no checkpoint hash and no preprocessing: unknown).
    /// `textFeatures` is [C, D] (stored L2-normalised), or [T, C, D] per template (averaged as CLIP does).
    public static func write(into dir: URL, dataset: String, classNames: [String], logitScale: Float, modelID: String,
                             dtype: FeatureDType, chunkSize: Int, train: ImportSplit?, test: ImportSplit?,
                             textFeatures: Tensor, templates: [String]) throws -> ImportSummary {
        let start = Date()
        guard chunkSize >= 1 else { throw FeatureCacheError("", "chunk size must be positive") }
        guard !classNames.isEmpty else { throw FeatureCacheError("", "no class names") }
        guard train != nil || test != nil else { throw FeatureCacheError("", "nothing to import: give train and/or test features") }
        let c = classNames.count
        var dim = -1
        for (name, s) in [("train", train), ("test", test)] {
            guard let s else { continue }
            guard s.features.rank == 2 else { throw FeatureCacheError("", "\(name) features must be 2-D [N, D], shape is \(s.features.shape)") }
            guard s.labels.count == s.features.shape[0] else {
                throw FeatureCacheError("", "\(name): \(s.features.shape[0]) feature rows but \(s.labels.count) labels")
            }
            if let bad = s.labels.firstIndex(where: { $0 < 0 || $0 >= c }) {
                throw FeatureCacheError("", "\(name) label \(s.labels[bad]) at row \(bad) is outside 0..<\(c) (\(c) class names)")
            }
            if let ids = s.ids, ids.count != s.labels.count { throw FeatureCacheError("", "\(name): \(ids.count) ids for \(s.labels.count) rows") }
            guard dim < 0 || dim == s.features.shape[1] else { throw FeatureCacheError("", "train and test features have different widths") }
            dim = s.features.shape[1]
        }
        // Text features: [C, D] or [T, C, D].
        let perTemplate: Tensor
        switch textFeatures.shape {
        case [c, dim]: perTemplate = try textFeatures.l2Normalized().reshaped([1, c, dim])
        case let s where s.count == 3 && s[1] == c && s[2] == dim: perTemplate = try textFeatures.l2Normalized()
        default:
            throw FeatureCacheError("", "text features have shape \(textFeatures.shape), expected [\(c), \(dim)] or [T, \(c), \(dim)] (classes × embed_dim)")
        }
        let t = perTemplate.shape[0]
        var sum = [Float](repeating: 0, count: c * dim)
        for k in 0..<t { for i in 0..<(c * dim) { sum[i] += perTemplate.storage[k * c * dim + i] } }
        let classifier = try Tensor(shape: [c, dim], storage: sum).l2Normalized()
        guard templates.isEmpty || templates.count == t else {
            throw FeatureCacheError("", "\(templates.count) templates given for \(t) per-template text features")
        }

        let lock = try CacheLock.forWriting(dir)
        defer { lock.release() }
        guard !FeatureCacheFiles.names(in: dir).contains(where: { $0 != FeatureCacheFiles.lockName }) else {
            throw FeatureCacheError(dir, "is not empty; import into a new folder")
        }
        var meta = FeatureCacheMeta(dataset: dataset, classNames: classNames, classOrder: try? Benchmark.named(dataset).classOrder(classCount: c),
                                    logitScale: logitScale, modelID: modelID, checkpointSHA256: nil, dtype: dtype, computeDType: nil, preprocessing: nil,
                                    embedDim: dim, chunkSize: chunkSize, batchSize: nil, views: 1, templates: templates)
        try TextFeatureFile.write(dir.appendingPathComponent(FeatureCacheFiles.textName), classifier: classifier, perTemplate: perTemplate,
                                  templates: templates, classNames: classNames)
        var shards = 0
        for (split, s) in [(DatasetSplit.train, train), (.test, test)] {
            guard let s else { continue }
            let n = s.labels.count
            let ids = s.ids ?? (0..<n).map { "\(split.rawValue)/\(ReaderFiles.padded($0, 5))" }
            let chunks = (n + chunkSize - 1) / chunkSize
            for ch in 0..<chunks {
                let r = (ch * chunkSize)..<min(n, (ch + 1) * chunkSize)
                let payload = ShardPayload(split: split, chunk: ch, firstIndex: r.lowerBound, ids: Array(ids[r]), skipped: [],
                                           labels: s.labels[r].map { Int64($0) },
                                           features: Array(s.features.storage[(r.lowerBound * dim)..<(r.upperBound * dim)]),
                                           viewFeatures: nil, dim: dim, views: 1, dtype: dtype)
                try payload.write(into: dir)
            }
            shards += chunks
            meta.splits[split.rawValue] = FeatureSplitInfo(samples: n, datasetSamples: n, limit: nil, shards: chunks, skipped: [],
                                                           complete: true, part: nil)
        }
        try FeatureCacheFiles.writeAtomically(try meta.encoded(), to: dir.appendingPathComponent(FeatureCacheFiles.metaName))
        return ImportSummary(train: train?.labels.count, test: test?.labels.count, classes: c, embedDim: dim, shards: shards,
                             seconds: Date().timeIntervalSince(start))
    }
}
