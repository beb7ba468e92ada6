// Joining the part directories of a sharded extraction (`--shard i/n`) into one cache.

import Foundation

public struct MergeSummary: Sendable, Encodable {
    public var splits: [String]
    public var parts: Int
    public var shards: Int
    public var samples: Int
    public var seconds: Double
}

public enum FeatureCacheMerger {
    /// Merges `parts` into `out` (created if needed). Checks that the parts come from the same model,
    /// preprocessing, dtype, dataset and options, that every split is complete in every part, that each chunk
    /// of each split is in exactly one part (no gap, no overlap) and that every shard's SHA-256 verifies.
    /// Shards are copied byte for byte and meta.json is derived from them as a single run derives it, so the
    /// result is bit-identical to an unsharded extraction. Nothing in `out` is modified before all checks pass.
    public static func merge(parts: [URL], into out: URL, log: (String) -> Void = { _ in }) throws -> MergeSummary {
        let start = Date()
        guard !parts.isEmpty else { throw FeatureCacheError("", "--merge needs at least one part folder") }
        let outPath = out.standardizedFileURL.path
        var metas: [FeatureCacheMeta] = []
        for p in parts {
            guard p.standardizedFileURL.path != outPath else { throw FeatureCacheError(p, "a part folder cannot also be the --out folder") }
            metas.append(try FeatureCacheMeta.read(p.appendingPathComponent(FeatureCacheFiles.metaName)))
        }
        for (p, m) in zip(parts, metas).dropFirst() {
            if let diff = metas[0].identityDifference(m) {
                throw FeatureCacheError(p, "cannot be merged with \(parts[0].path): it differs in \(diff)")
            }
        }
        // Text features must be the same bytes in every part.
        let textData = try parts.map { p -> Data in
            let url = p.appendingPathComponent(FeatureCacheFiles.textName)
            _ = try TextFeatureFile.read(url, meta: metas[0])
            return try Data(contentsOf: url)
        }
        for (p, d) in zip(parts, textData).dropFirst() where d != textData[0] {
            throw FeatureCacheError(p.appendingPathComponent(FeatureCacheFiles.textName), "differs from \(parts[0].path)/text.safetensors")
        }

        let splitNames = Set(metas.flatMap { $0.splits.keys }).sorted()
        var plan: [(split: DatasetSplit, info: FeatureSplitInfo, sources: [URL])] = []
        for name in splitNames {
            let split = DatasetSplit(rawValue: name)!
            var reference: FeatureSplitInfo? = nil
            var owners: [Int: URL] = [:]
            for (p, m) in zip(parts, metas) {
                guard let info = m.splits[name] else { continue }
                guard info.complete else {
                    throw FeatureCacheError(p, "split \(name)\(info.part.map { " (part \($0))" } ?? "") is incomplete; rerun its clipcl extract command first")
                }
                if let r = reference {
                    guard r.datasetSamples == info.datasetSamples, r.limit == info.limit else {
                        throw FeatureCacheError(p, "split \(name) has \(info.datasetSamples) images, \(parts[0].path) has \(r.datasetSamples) (different --limit or dataset)")
                    }
                } else {
                    reference = info
                }
                for c in 0..<info.shards where info.part?.owns(chunk: c) ?? true {
                    if let other = owners[c] {
                        throw FeatureCacheError(p, "overlap: \(FeatureCacheFiles.shardName(split, c)) is also in \(other.path)")
                    }
                    owners[c] = p
                }
            }
            let info = reference!
            if let gap = (0..<info.shards).first(where: { owners[$0] == nil }) {
                throw FeatureCacheError("", "gap: no part holds \(FeatureCacheFiles.shardName(split, gap)) (a --shard part is missing from the list?)")
            }
            plan.append((split, info, (0..<info.shards).map { owners[$0]! }))
        }

        // Verify every shard before touching `out`; derive the merged split state.
        var merged = metas[0]
        merged.splits = [:]
        var shardCount = 0, sampleCount = 0
        for (split, info, sources) in plan {
            var rows = 0
            var skipped: [String] = []
            for (c, dir) in sources.enumerated() {
                let s = try FeatureShard.open(dir.appendingPathComponent(FeatureCacheFiles.shardName(split, c)), split: split, chunk: c,
                                              dim: merged.embedDim, dtype: merged.dtype, views: merged.views)
                try s.verify()
                let expected = min(merged.chunkSize, info.datasetSamples - c * merged.chunkSize)
                guard s.firstIndex == c * merged.chunkSize, s.count + s.skipped.count == expected else {
                    throw FeatureCacheError(s.url, "does not hold chunk \(c) (first_index \(s.firstIndex), \(s.count + s.skipped.count) images)")
                }
                rows += s.count
                skipped += s.skipped
            }
            merged.splits[split.rawValue] = FeatureSplitInfo(samples: rows, datasetSamples: info.datasetSamples, limit: info.limit,
                                                             shards: info.shards, skipped: skipped, complete: true, part: nil)
            shardCount += info.shards
            sampleCount += rows
        }

        // Write.
        let lock = try CacheLock.forWriting(out)
        defer { lock.release() }
        let metaURL = out.appendingPathComponent(FeatureCacheFiles.metaName)
        if FeatureCacheFiles.fileExists(metaURL) {
            let existing = try FeatureCacheMeta.read(metaURL)
            if let diff = existing.identityDifference(merged) {
                throw FeatureCacheError(out, "refusing to merge into this cache: it differs in \(diff)")
            }
            for name in merged.splits.keys where existing.splits[name] != nil {
                throw FeatureCacheError(out, "already has split \(name); merge into an empty folder")
            }
            for (k, v) in existing.splits { merged.splits[k] = v }
            merged.modelID = existing.modelID
        } else if let other = FeatureCacheFiles.names(in: out).first(where: { name in
            // Shards and text left by an interrupted merge are rewritten; anything else is not ours.
            name != FeatureCacheFiles.lockName && name != FeatureCacheFiles.textName
                && !DatasetSplit.allCases.contains { FeatureCacheFiles.chunkIndex(of: name, split: $0) != nil }
        }) {
            throw FeatureCacheError(out, "is not empty (\(other)) and has no meta.json; merge into an empty folder")
        }
        let textURL = out.appendingPathComponent(FeatureCacheFiles.textName)
        if !FeatureCacheFiles.fileExists(textURL) { try FeatureCacheFiles.writeAtomically(textData[0], to: textURL) }
        for (split, _, sources) in plan {
            for (c, dir) in sources.enumerated() {
                let name = FeatureCacheFiles.shardName(split, c)
                let data: Data
                do { data = try Data(contentsOf: dir.appendingPathComponent(name)) } catch {
                    throw FeatureCacheError(dir.appendingPathComponent(name), "cannot read (\(FeatureCacheFiles.reason(error)))")
                }
                try FeatureCacheFiles.writeAtomically(data, to: out.appendingPathComponent(name))
            }
            log("merged \(split.rawValue): \(sources.count) shards from \(Set(sources.map(\.path)).count) parts")
        }
        try FeatureCacheFiles.writeAtomically(try merged.encoded(), to: metaURL)
        // Re-check what landed on disk (copy errors, full disk).
        let check = try FeatureCache.open(out)
        for (split, _, _) in plan { _ = try check.completeSplit(split) }
        return MergeSummary(splits: plan.map { $0.split.rawValue }, parts: parts.count, shards: shardCount, samples: sampleCount,
                            seconds: Date().timeIntervalSince(start))
    }
}
