// Crash-safe, resumable, shardable image-feature extraction into a feature cache.
//
// The split is cut into chunks of `chunkSize` images (chunk c = images c·chunkSize ..< (c+1)·chunkSize in
// dataset order). Each chunk is encoded in batches that start at the chunk start, and written as one shard
// by an atomic rename. A rerun skips the shards that exist, so after a kill at any moment the final cache is
// bit-identical to an uninterrupted run. `--shard i/n` processes own the chunks c with c % n == i.

#if canImport(Glibc)
import Glibc
#endif
import CLIP
import Dispatch
import Foundation
import TensorKit

public struct ExtractionOptions: Sendable {
    public var split: DatasetSplit
    public var dtype: FeatureDType = .f16
    /// Take only the first `limit` images of the split (dataset order).
    public var limit: Int? = nil
    /// Images per forward pass. Part of the cache identity: batches start at chunk starts, and the same
    /// batch size gives the same batch composition, hence bit-identical features.
    public var batchSize: Int = 32
    public var chunkSize: Int = 1024
    /// Only the chunks of this part (c % count == index); nil = all.
    public var part: CachePart? = nil
    /// Fail on an undecodable image instead of skipping it with a warning.
    public var strict: Bool = false
    /// 1 = plain features; K > 1 also stores K − 1 augmented views per image.
    public var views: Int = 1
    /// Prompt templates for `text.safetensors`.
    public var templates: [String]

    public init(split: DatasetSplit, templates: [String]) {
        self.split = split
        self.templates = templates
    }

    public static let maxViews = 64
}

/// What one `run` did.
public struct ExtractionSummary: Sendable, Encodable {
    public var split: String
    public var dataset: String
    /// Images of the split in scope (after --limit).
    public var datasetSamples: Int
    /// Shards of the whole split, shards owned by this process, written now, found already present.
    public var shardsTotal: Int
    public var shardsOwned: Int
    public var shardsWritten: Int
    public var shardsReused: Int
    /// Images read and encoded by this run (skipped ones included in `imagesRead`).
    public var imagesRead: Int
    public var imagesEncoded: Int
    public var skippedNow: Int
    /// Rows and skipped ids of the split in this directory once the run ends.
    public var samples: Int
    public var skippedTotal: Int
    public var complete: Bool
    public var seconds: Double
    public var imagesPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case split, dataset, datasetSamples = "dataset_samples", shardsTotal = "shards_total", shardsOwned = "shards_owned"
        case shardsWritten = "shards_written", shardsReused = "shards_reused", imagesRead = "images_read"
        case imagesEncoded = "images_encoded", skippedNow = "skipped_now", samples, skippedTotal = "skipped_total"
        case complete, seconds, imagesPerSecond = "images_per_second"
    }
}

/// Thrown by the `afterChunk` hook in tests to simulate a kill between two chunks.
public struct SimulatedInterruption: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "simulated interruption" }
}

public final class FeatureExtractor {
    public let clip: LoadedCLIP
    public let checkpointSHA256: String
    public let dataset: String
    public let classNames: [String]
    public let classOrder: [Int]?
    public let samples: LabeledSamples
    public var options: ExtractionOptions

    /// (images done by this run, images this run has to do); called from the extracting thread.
    public var progress: ((Int, Int) -> Void)? = nil
    /// Skipped-image warnings (one line each).
    public var warn: (String) -> Void = { _ in }
    /// Informational lines (resuming, nothing to do, …).
    public var log: (String) -> Void = { _ in }
    /// Test hook: called after each shard is written (argument: chunk index). Throwing stops the run
    /// there, as a kill between two chunks would.
    public var afterChunk: ((Int) throws -> Void)? = nil

    public init(clip: LoadedCLIP, checkpointSHA256: String, dataset: String, classNames: [String], classOrder: [Int]?,
                samples: LabeledSamples, options: ExtractionOptions) {
        self.clip = clip
        self.checkpointSHA256 = checkpointSHA256
        self.dataset = dataset
        self.classNames = classNames
        self.classOrder = classOrder
        self.samples = samples
        self.options = options
    }

    /// Names, order and templates taken from `benchmark`.
    public convenience init(clip: LoadedCLIP, checkpointSHA256: String, benchmark: Benchmark, samples: LabeledSamples,
                            options: ExtractionOptions) throws {
        let names = try benchmark.classNames(for: samples)
        self.init(clip: clip, checkpointSHA256: checkpointSHA256, dataset: benchmark.name, classNames: names,
                  classOrder: try? benchmark.classOrder(classCount: names.count), samples: samples, options: options)
    }

    /// The cache identity this run would write.
    func identity() -> FeatureCacheMeta {
        FeatureCacheMeta(dataset: dataset, classNames: classNames, classOrder: classOrder, logitScale: clip.model.logitScaleExp,
                         modelID: clip.modelID, checkpointSHA256: checkpointSHA256, dtype: options.dtype,
                         computeDType: clip.model.vision.dtype, preprocessing: clip.preprocess, embedDim: clip.model.config.embedDim, chunkSize: options.chunkSize,
                         batchSize: options.batchSize, views: options.views, templates: options.templates,
                         checkpointRevision: clip.revision)
    }

    func validateOptions() throws {
        let o = options
        guard o.batchSize >= 1, o.chunkSize >= 1 else { throw FeatureCacheError("", "batch size and chunk size must be positive") }
        guard (1...ExtractionOptions.maxViews).contains(o.views) else {
            throw FeatureCacheError("", "views must be in 1...\(ExtractionOptions.maxViews), got \(o.views)")
        }
        if let l = o.limit, l < 1 { throw FeatureCacheError("", "limit must be positive, got \(l)") }
        guard !o.templates.isEmpty else { throw FeatureCacheError("", "no prompt templates") }
        guard samples.labels.allSatisfy({ $0 >= 0 && $0 < classNames.count }) else {
            throw FeatureCacheError(samples.source, "labels outside 0..<\(classNames.count) (the class names)")
        }
        let p = clip.preprocess
        guard p.cropHeight == clip.model.config.imageSize, p.cropWidth == clip.model.config.imageSize else {
            throw FeatureCacheError("", "preprocessing crops \(p.cropHeight)x\(p.cropWidth) but the model takes \(clip.model.config.imageSize)")
        }
    }

    /// Extracts the split into `dir` (created if needed), continuing whatever a previous run left.
    public func run(into dir: URL) throws -> ExtractionSummary {
        try validateOptions()
        let start = Date()
        let split = options.split
        let lock = try CacheLock.forWriting(dir)
        defer { lock.release() }

        let n = min(samples.count, options.limit ?? samples.count)
        let cs = options.chunkSize
        let chunkCount = (n + cs - 1) / cs
        let metaURL = dir.appendingPathComponent(FeatureCacheFiles.metaName)
        let (started, wanted) = try startSplit(dir, imageCount: n, chunkCount: chunkCount)
        var meta = started

        // 3. Which chunks are ours and which already exist (checked against the dataset ids).
        let owned = (0..<chunkCount).filter { options.part?.owns(chunk: $0) ?? true }
        var todo: [Int] = []
        for c in owned {
            let url = dir.appendingPathComponent(FeatureCacheFiles.shardName(split, c))
            if FeatureCacheFiles.fileExists(url) {
                try checkExisting(url, chunk: c, total: n, meta: meta)
            } else {
                todo.append(c)
            }
        }
        let reused = owned.count - todo.count
        if reused > 0 && !todo.isEmpty { log("resuming: \(reused) of \(owned.count) shards already written, \(todo.count) to go") }
        if todo.isEmpty && meta.split(split)?.complete == true { log("\(split.rawValue): all \(owned.count) shards already written, nothing to do") }

        // 4. Encode the missing chunks, in order.
        let imagesToDo = todo.reduce(0) { $0 + min(cs, n - $1 * cs) }
        var done = 0, encoded = 0, skippedNow = 0
        let encodeStart = Date()
        progress?(0, imagesToDo)
        for c in todo {
            let payload = try encodeChunk(c, total: n) { batchDone in
                self.progress?(done + batchDone, imagesToDo)
            }
            try payload.write(into: dir)
            done += payload.ids.count + payload.skipped.count
            encoded += payload.ids.count
            skippedNow += payload.skipped.count
            try afterChunk?(c)
        }
        let encodeSeconds = Date().timeIntervalSince(encodeStart)

        // 5. Final meta: derived from the shards only, so every run that completes writes the same bytes.
        var rows = 0
        var skipped: [String] = []
        for c in owned {
            let s = try FeatureShard.open(dir.appendingPathComponent(FeatureCacheFiles.shardName(split, c)), split: split, chunk: c,
                                          dim: meta.embedDim, dtype: meta.dtype, views: meta.views)
            rows += s.count
            skipped += s.skipped
        }
        var info = wanted
        info.samples = rows
        info.skipped = skipped
        info.complete = true
        meta.splits[split.rawValue] = info
        let bytes = try meta.encoded()
        if (try? Data(contentsOf: metaURL)) != bytes { try FeatureCacheFiles.writeAtomically(bytes, to: metaURL) }

        return ExtractionSummary(split: split.rawValue, dataset: dataset, datasetSamples: n, shardsTotal: chunkCount,
                                 shardsOwned: owned.count, shardsWritten: todo.count, shardsReused: reused, imagesRead: done,
                                 imagesEncoded: encoded, skippedNow: skippedNow, samples: rows, skippedTotal: skipped.count,
                                 complete: true, seconds: Date().timeIntervalSince(start),
                                 imagesPerSecond: encodeSeconds > 0 ? Double(done) / encodeSeconds : 0)
    }

    /// Steps 1–2 of a run, shared with `writePlan`: the cache identity of `dir` checked against this run (or
    /// written), this split recorded in meta.json, text.safetensors written once. Returns the meta and the
    /// split's starting state. The caller holds the lock.
    func startSplit(_ dir: URL, imageCount n: Int, chunkCount: Int) throws -> (meta: FeatureCacheMeta, wanted: FeatureSplitInfo) {
        let split = options.split
        // 1. Identity: refuse to mix models, preprocessing, dtypes, datasets, ...
        var meta = identity()
        let metaURL = dir.appendingPathComponent(FeatureCacheFiles.metaName)
        let present = Set(FeatureCacheFiles.names(in: dir))
        if FeatureCacheFiles.fileExists(metaURL) {
            let existing = try FeatureCacheMeta.read(metaURL)
            if let diff = existing.identityDifference(meta) {
                throw FeatureCacheError(dir, "refusing to add to this cache: it differs in \(diff) (cache vs this run); use another --out")
            }
            meta = existing
        } else if present.contains(where: { FeatureCacheFiles.chunkIndex(of: $0, split: .train) != nil
            || FeatureCacheFiles.chunkIndex(of: $0, split: .test) != nil || $0 == FeatureCacheFiles.textName }) {
            throw FeatureCacheError(dir, "holds shard files but no meta.json (not a clipcl cache, or damaged); use an empty --out")
        }
        let wanted = FeatureSplitInfo(samples: 0, datasetSamples: n, limit: options.limit, shards: chunkCount, skipped: [],
                                      complete: false, part: options.part)
        if let old = meta.split(split) {
            if old.datasetSamples != n || old.limit != options.limit {
                throw FeatureCacheError(dir, "refusing to add to this cache: split \(split.rawValue) was started with \(old.datasetSamples) images"
                                        + (old.limit.map { " (--limit \($0))" } ?? "") + ", this run has \(n)"
                                        + (options.limit.map { " (--limit \($0))" } ?? "") + "; use another --out")
            }
            if old.part != options.part {
                throw FeatureCacheError(dir, "refusing to add to this cache: split \(split.rawValue) was started as part "
                                        + "\(old.part?.description ?? "none (all chunks)"), this run is part \(options.part?.description ?? "none (all chunks)")")
            }
        } else {
            if present.contains(where: { FeatureCacheFiles.chunkIndex(of: $0, split: split) != nil }) {
                throw FeatureCacheError(dir, "holds \(split.rawValue)-*.safetensors files that meta.json does not describe; remove them or use another --out")
            }
            meta.splits[split.rawValue] = wanted
            try FeatureCacheFiles.writeAtomically(try meta.encoded(), to: metaURL)
        }

        // 2. Text features, once per cache.
        let textURL = dir.appendingPathComponent(FeatureCacheFiles.textName)
        if FeatureCacheFiles.fileExists(textURL) {
            _ = try TextFeatureFile.read(textURL, meta: meta)
        } else {
            let (classifier, perTemplate) = try clip.zeroShotClassifier(classNames: classNames, templates: options.templates)
            try TextFeatureFile.write(textURL, classifier: classifier, perTemplate: perTemplate, templates: options.templates,
                                      classNames: classNames)
        }

        return (meta, wanted)
    }

    /// An existing shard must be a valid shard of this chunk holding exactly the chunk's dataset ids.
    func checkExisting(_ url: URL, chunk c: Int, total n: Int, meta: FeatureCacheMeta) throws {
        let s = try FeatureShard.open(url, split: options.split, chunk: c, dim: meta.embedDim, dtype: meta.dtype, views: meta.views)
        let range = (c * options.chunkSize)..<min(n, (c + 1) * options.chunkSize)
        let skipped = Set(s.skipped)
        let expected = samples.ids[range].filter { !skipped.contains($0) }
        guard s.firstIndex == range.lowerBound, s.ids == expected, s.skipped.count + s.ids.count == range.count else {
            throw FeatureCacheError(url, "holds other images than chunk \(c) of the dataset (the dataset changed since the cache was started?); "
                                    + "use another --out")
        }
    }

    // MARK: - Encoding one chunk

    /// Encodes every sample in memory, in the same batches as a cache would be (no files written): `clipcl predict`.
    /// Undecodable images are left out and reported to `failed` (sample index, reason); `progress` as for `run`.
    public func encodeInMemory(failed: @escaping (Int, String) -> Void) throws -> (features: Tensor, indices: [Int]) {
        try validateOptions()
        let n = min(samples.count, options.limit ?? samples.count)
        let dim = clip.model.config.embedDim
        var features: [Float] = [], done = 0, failures = Set<Int>()
        progress?(0, n)
        for c in 0..<((n + options.chunkSize - 1) / options.chunkSize) {
            let payload = try encodeChunk(c, total: n, failed: { i, reason in failures.insert(i); failed(i, reason) }) {
                self.progress?(done + $0, n)
            }
            features += payload.features
            done += payload.ids.count + payload.skipped.count
        }
        return (try Tensor(shape: [features.count / dim, dim], storage: features), (0..<n).filter { !failures.contains($0) })
    }

    /// Encodes chunk `c` in batches starting at the chunk start. `batchProgress` gets the images read so far.
    /// Undecodable images go to `failed` when given, else they are warned about and listed as skipped.
    func encodeChunk(_ c: Int, total n: Int, failed: ((Int, String) -> Void)? = nil, batchProgress: (Int) -> Void) throws -> ShardPayload {
        let cs = options.chunkSize
        let range = (c * cs)..<min(n, (c + 1) * cs)
        let dim = clip.model.config.embedDim
        let extra = options.views - 1
        var payload = ShardPayload(split: options.split, chunk: c, firstIndex: range.lowerBound, ids: [], skipped: [], labels: [],
                                   features: [], viewFeatures: extra > 0 ? [] : nil, dim: dim, views: options.views,
                                   dtype: options.dtype)
        payload.features.reserveCapacity(range.count * dim)
        var read = 0
        for batchStart in stride(from: range.lowerBound, to: range.upperBound, by: options.batchSize) {
            let batch = batchStart..<min(range.upperBound, batchStart + options.batchSize)
            let prepared = try preprocess(batch)
            for (i, error) in prepared.failures {
                let id = samples.ids[i]
                if options.strict {
                    throw FeatureCacheError(samples.fileURL(at: i)?.path ?? id, "cannot decode image \(id): \(error) (--strict)")
                }
                if let failed { failed(i, error) } else { warn("warning: skipping undecodable image \(id): \(error)") }
                payload.skipped.append(id)
            }
            let m = prepared.indices.count
            if m > 0 {
                let s = clip.preprocess
                let shape = [m, 3, s.cropHeight, s.cropWidth]
                let e = try clip.model.encodeImages(Tensor(shape: shape, storage: prepared.views[0]))
                guard e.shape == [m, dim] else { throw FeatureCacheError("", "the image encoder returned shape \(e.shape), expected [\(m), \(dim)]") }
                if extra > 0 {
                    // Per image: its K−1 views, contiguous ([n, K−1, D] layout).
                    var perView: [Tensor] = []
                    for v in 1...extra { perView.append(try clip.model.encodeImages(Tensor(shape: shape, storage: prepared.views[v]))) }
                    for row in 0..<m {
                        for v in 0..<extra { payload.viewFeatures!.append(contentsOf: perView[v].storage[(row * dim)..<((row + 1) * dim)]) }
                    }
                }
                payload.features.append(contentsOf: e.storage)
                for i in prepared.indices {
                    payload.ids.append(samples.ids[i])
                    payload.labels.append(Int64(samples.labels[i]))
                }
            }
            read += batch.count
            batchProgress(read)
        }
        return payload
    }

    struct PreparedBatch {
        /// Dataset indices that decoded, in order.
        var indices: [Int]
        /// views[v]: pixels of view v of those images, [m, 3, H, W] flattened (view 0 = the plain pipeline).
        var views: [[Float]]
        var failures: [(Int, String)]
    }

    /// Decodes and preprocesses `batch` on all cores. Undecodable images are reported, not thrown.
    func preprocess(_ batch: Range<Int>) throws -> PreparedBatch {
        let config = clip.preprocess
        let size = 3 * config.cropHeight * config.cropWidth
        let k = options.views
        let count = batch.count
        let slots = SlotBuffer(count: count * k * size, slots: count)
        let samples = self.samples
        let chunkSize = options.chunkSize
        DispatchQueue.concurrentPerform(iterations: count) { j in
            let i = batch.lowerBound + j
            do {
                let image = try FeatureExtractor.image(samples, i)
                for v in 0..<k {
                    let input = v == 0 ? image : try Augmentation.view(image, chunk: i / chunkSize, index: i % chunkSize, view: v)
                    try ImagePreprocessor.writePixels(input, config: config, into: slots.slice(((v * count) + j) * size, size))
                }
            } catch let e as ImageError {
                slots.fail(j, e.description)
            } catch let e as DatasetError {
                slots.fail(j, e.description)
            } catch {
                slots.fail(j, "\(error)")
            }
        }
        var out = PreparedBatch(indices: [], views: Array(repeating: [], count: k), failures: [])
        for j in 0..<count {
            if let message = slots.failures[j] { out.failures.append((batch.lowerBound + j, message)) } else { out.indices.append(batch.lowerBound + j) }
        }
        for v in 0..<k {
            out.views[v].reserveCapacity(out.indices.count * size)
            for i in out.indices {
                let j = i - batch.lowerBound
                out.views[v].append(contentsOf: slots.slice(((v * count) + j) * size, size))
            }
        }
        return out
    }

    /// Sample `i` as an 8-bit image (raw pixels or a decoded file).
    static func image(_ samples: LabeledSamples, _ i: Int) throws -> Image8 {
        switch samples.content {
        case let .pixels(b):
            return try Image8(width: b.width, height: b.height, channels: b.channels, interleaved: b.image(at: i), source: samples.ids[i])
        case let .files(urls):
            return try ImageDecoder.decode(contentsOf: urls[i])
        }
    }
}

/// Pixel slots written concurrently (each slot by one worker) plus per-slot failure messages.
private final class SlotBuffer: @unchecked Sendable {
    /// Allocated once and never resized; workers write disjoint ranges.
    let storage: UnsafeMutableBufferPointer<Float>
    private(set) var failures: [String?]
    private let lock = NSLock()

    init(count: Int, slots: Int) {
        storage = .allocate(capacity: count)
        storage.initialize(repeating: 0)
        failures = [String?](repeating: nil, count: slots)
    }

    deinit { storage.deallocate() }

    func slice(_ offset: Int, _ count: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: storage[offset..<(offset + count)])
    }

    func fail(_ slot: Int, _ message: String) {
        lock.lock()
        failures[slot] = message
        lock.unlock()
    }
}

/// The deterministic augmentation of `--views`: a random crop of 80–100 % of the area (aspect ratio kept)
/// at a random position, then a horizontal flip with probability 1/2; the standard pipeline follows.
/// The generator of view v of image `index` in chunk `chunk` is seeded with (chunk · 2^32 + index) · 64 + v.
public enum Augmentation {
    public static func seed(chunk: Int, index: Int, view: Int) -> UInt64 {
        ((UInt64(chunk) << 32) | UInt64(index)) &* 64 &+ UInt64(view)
    }

    public static func view(_ image: Image8, chunk: Int, index: Int, view: Int) throws -> Image8 {
        var rng = RandomGenerator(seed: seed(chunk: chunk, index: index, view: view))
        let area = 0.8 + 0.2 * rng.uniformDouble()
        let side = area.squareRoot()
        let w = max(1, min(image.width, Int((Double(image.width) * side).rounded())))
        let h = max(1, min(image.height, Int((Double(image.height) * side).rounded())))
        let x0 = rng.int(below: image.width - w + 1)
        let y0 = rng.int(below: image.height - h + 1)
        let flip = rng.uniform() < 0.5
        let ch = image.channels
        var out = [UInt8](repeating: 0, count: w * h * ch)
        image.pixels.withUnsafeBufferPointer { src in
            for y in 0..<h {
                for x in 0..<w {
                    let sx = flip ? x0 + w - 1 - x : x0 + x
                    let s = ((y0 + y) * image.width + sx) * ch
                    let d = (y * w + x) * ch
                    for k in 0..<ch { out[d + k] = src[s + k] }
                }
            }
        }
        return try Image8(width: w, height: h, channels: ch, pixels: out)
    }
}
