// Feature cache: format, verified reading, resumable and shardable extraction, locking, interop.

import CLIP
import Datasets
import Foundation
import TensorKit
import Testing
import TestSupport

@Suite("Feature cache", .serialized)
struct FeatureCacheTests {
    // MARK: - Extraction and reading

    @Test("extract → read back: shapes, labels, ids, values; a flipped byte is reported with the shard name")
    func extractAndReadBack() throws {
        let data = try CacheFixtures.temporaryDirectory("data"), out = try CacheFixtures.temporaryDirectory("out")
        defer { try? FileManager.default.removeItem(at: data); try? FileManager.default.removeItem(at: out) }
        let samples = try CacheFixtures.mnistSamples(count: 50, dir: data)
        let clip = try CacheFixtures.loadModel()
        let ex = try CacheFixtures.extractor(clip, sha: try CacheFixtures.checkpointSHA(clip), samples: samples) { $0.chunkSize = 16; $0.batchSize = 5 }
        var reports: [(Int, Int)] = []
        ex.progress = { reports.append(($0, $1)) }
        let summary = try ex.run(into: out)
        #expect(summary.samples == 50 && summary.shardsWritten == 4 && summary.complete)
        #expect(reports.last.map { $0 == (50, 50) } == true)

        let cache = try FeatureCache.open(out)
        let d = clip.model.config.embedDim
        #expect(cache.meta.dataset == "mnist" && cache.meta.embedDim == d && cache.meta.dtype == .f16)
        #expect(cache.meta.classNames == (0..<10).map(String.init))
        #expect(cache.meta.split(.train)?.shards == 4 && cache.meta.split(.train)?.samples == 50)
        let (features, labels, ids) = try cache.split(.train)
        #expect(features.shape == [50, d])
        #expect(labels == samples.labels)
        #expect(ids == samples.ids)

        // Values: the model's own embeddings of the same pixels (F16 storage → small tolerance).
        var pixels: [Float] = []
        guard case let .pixels(batch) = samples.content else { Issue.record("MNIST should be raw pixels"); return }
        for i in 0..<50 {
            let image = try Image8(width: 28, height: 28, channels: 1, interleaved: batch.image(at: i))
            pixels += try ImagePreprocessor.pixels(image, config: clip.preprocess)
        }
        let direct = try clip.model.encodeImages(Tensor(shape: [50, 3, 32, 32], storage: pixels))
        let scale = direct.storage.map(abs).max() ?? 1
        let maxDiff = zip(direct.storage, features.storage).map { abs($0 - $1) }.max() ?? 0
        #expect(maxDiff <= 2e-3 * scale, "max |cache − direct| = \(maxDiff) (scale \(scale))")

        let text = try cache.textFeatures()
        #expect(text.classifier.shape == [10, d] && text.perTemplate.shape == [1, 10, d])
        #expect(text.templates == ["a photo of a {}."])

        // Corruption: flip one byte of shard 1's feature data.
        let shardURL = out.appendingPathComponent("train-00001.safetensors")
        var bytes = try Data(contentsOf: shardURL)
        bytes[bytes.count - 3] ^= 0x40
        try bytes.write(to: shardURL)
        let reopened = try FeatureCache.open(out)
        do {
            _ = try reopened.split(.train)
            Issue.record("a corrupt shard must not read")
        } catch let e as FeatureCacheError {
            #expect(e.description.contains("train-00001.safetensors") && e.description.contains("checksum mismatch"), "\(e)")
            #expect(!e.description.contains("\n"))
        }
    }

    @Test("folder dataset: a corrupt image is skipped with a warning and counted, or fails with --strict")
    func corruptImageSkippedOrStrict() throws {
        let data = try CacheFixtures.temporaryDirectory("folder"), out = try CacheFixtures.temporaryDirectory("out")
        defer { try? FileManager.default.removeItem(at: data); try? FileManager.default.removeItem(at: out) }
        let brokenID = try CacheFixtures.writeFolder(into: data)
        let samples = try Benchmark.named("folder").load(split: .train, root: data)
        let clip = try CacheFixtures.loadModel()
        let sha = try CacheFixtures.checkpointSHA(clip)
        let ex = try CacheFixtures.extractor(clip, sha: sha, samples: samples, dataset: "folder") { $0.chunkSize = 4 }
        var warnings: [String] = []
        ex.warn = { warnings.append($0) }
        let summary = try ex.run(into: out)
        #expect(summary.skippedTotal == 1 && summary.samples == samples.count - 1)
        #expect(warnings.count == 1 && warnings[0].contains(brokenID))
        let cache = try FeatureCache.open(out)
        #expect(cache.meta.split(.train)?.skipped == [brokenID])
        #expect(cache.meta.classNames == ["cat", "dog"])
        let r = try cache.split(.train)
        #expect(!r.ids.contains(brokenID) && r.ids.count == samples.count - 1)
        #expect(try cache.verifyAll() == (samples.count + 3) / 4)

        let strictOut = try CacheFixtures.temporaryDirectory("strict")
        defer { try? FileManager.default.removeItem(at: strictOut) }
        let strict = try CacheFixtures.extractor(clip, sha: sha, samples: samples, dataset: "folder") { $0.chunkSize = 4; $0.strict = true }
        #expect(throws: FeatureCacheError.self) { try strict.run(into: strictOut) }
        do { _ = try strict.run(into: strictOut) } catch { #expect("\(error)".contains(brokenID) && "\(error)".contains("--strict")) }
    }

    // MARK: - Crash safety

    @Test("interrupted between chunks and mid-write (temp files), rerun → bit-identical directory")
    func resumeIsBitIdentical() throws {
        let data = try CacheFixtures.temporaryDirectory("data")
        let reference = try CacheFixtures.temporaryDirectory("ref"), resumed = try CacheFixtures.temporaryDirectory("resumed")
        defer { for d in [data, reference, resumed] { try? FileManager.default.removeItem(at: d) } }
        let samples = try CacheFixtures.mnistSamples(count: 45, dir: data)
        let clip = try CacheFixtures.loadModel()
        let sha = try CacheFixtures.checkpointSHA(clip)
        _ = try CacheFixtures.extractor(clip, sha: sha, samples: samples).run(into: reference)

        // Run 1: "killed" after 2 chunks.
        let first = try CacheFixtures.extractor(clip, sha: sha, samples: samples)
        var written = 0
        first.afterChunk = { _ in written += 1; if written == 2 { throw SimulatedInterruption() } }
        #expect(throws: SimulatedInterruption.self) { try first.run(into: resumed) }
        #expect(try FeatureCacheMeta.read(resumed.appendingPathComponent("meta.json")).split(.train)?.complete == false)
        #expect(throws: FeatureCacheError.self) { try FeatureCache.open(resumed).split(.train) }
        // Leftovers of a kill in the middle of writing shard 2.
        try Data(repeating: 0xAB, count: 1000).write(to: resumed.appendingPathComponent(".train-00002.safetensors.tmp-999-42"))
        try Data(repeating: 0xCD, count: 10).write(to: resumed.appendingPathComponent("train-00002.safetensors.tmp"))

        // Run 2: "killed" after one more chunk; run 3 completes.
        let second = try CacheFixtures.extractor(clip, sha: sha, samples: samples)
        second.afterChunk = { _ in throw SimulatedInterruption() }
        #expect(throws: SimulatedInterruption.self) { try second.run(into: resumed) }
        let third = try CacheFixtures.extractor(clip, sha: sha, samples: samples)
        var logs: [String] = []
        third.log = { logs.append($0) }
        let summary = try third.run(into: resumed)
        #expect(summary.shardsReused == 3 && summary.shardsWritten == 3)
        #expect(logs.contains { $0.contains("resuming") })

        let diff = CacheFixtures.difference(try CacheFixtures.snapshot(reference), try CacheFixtures.snapshot(resumed))
        #expect(diff == nil, "resumed cache differs from the uninterrupted one: \(diff ?? "")")
        // A rerun of a complete cache changes nothing.
        _ = try CacheFixtures.extractor(clip, sha: sha, samples: samples).run(into: resumed)
        #expect(CacheFixtures.difference(try CacheFixtures.snapshot(reference), try CacheFixtures.snapshot(resumed)) == nil)
    }

    /// Runs the clipcl binary built with this test bundle (`TestSupport.clipcl`); a missing one fails.
    @Test("real process: clipcl extract killed with SIGKILL at random moments, rerun → bit-identical")
    func realProcessKill() throws {
        let binary = TestSupport.clipcl.path
        try #require(FileManager.default.isExecutableFile(atPath: binary), "no clipcl binary next to the test bundle at \(binary)")
        let data = try CacheFixtures.temporaryDirectory("data")
        let reference = try CacheFixtures.temporaryDirectory("ref"), killed = try CacheFixtures.temporaryDirectory("killed")
        defer { for d in [data, reference, killed] { try? FileManager.default.removeItem(at: d) } }
        try CacheFixtures.writeMNIST(count: 96, into: data)
        func args(_ out: URL) -> [String] {
            ["extract", "--model", CacheFixtures.modelPath, "--dataset", "mnist", "--root", data.path, "--split", "train",
             "--out", out.path, "--chunk-size", "8", "--batch-size", "4", "--threads", "1"]
        }
        let started = Date()
        let ref = try TestSupport.run(binary, args(reference))
        let runtime = Date().timeIntervalSince(started)
        try #require(ref.status == 0, "reference run failed: \(ref.stderr)")

        func shardCount(_ dir: URL) -> Int {
            ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasPrefix("train-") && $0.hasSuffix(".safetensors") }.count
        }
        var delays: [Double] = []
        var statuses: [Int32] = []
        for _ in 0..<3 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = args(killed)
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            // Kill mid-extraction: once this run has written a new shard (12 chunks in all, so most of the
            // work is still ahead), plus a random part of a chunk's time. A fixed fraction of the reference
            // run's time missed every run when the reference ran under load and the later runs did not.
            let shardsBefore = shardCount(killed)
            let start = Date()
            try p.run()
            while shardCount(killed) == shardsBefore && p.isRunning && Date().timeIntervalSince(start) < 10 * runtime + 10 {
                usleep(2_000)
            }
            let extra = Double.random(in: 0...(runtime / 24))
            usleep(UInt32(extra * 1_000_000))
            delays.append(Date().timeIntervalSince(start))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            statuses.append(p.terminationReason == .uncaughtSignal ? -p.terminationStatus : p.terminationStatus)
        }
        #expect(statuses.contains(-SIGKILL), "no run was killed before finishing (runtime \(runtime) s, delays \(delays))")
        let final = try TestSupport.run(binary, args(killed))
        #expect(final.status == 0, "final run failed: \(final.stderr)")
        let diff = CacheFixtures.difference(try CacheFixtures.snapshot(reference), try CacheFixtures.snapshot(killed))
        #expect(diff == nil, "after kills at \(delays) s (statuses \(statuses)): \(diff ?? "")")
    }

    /// In a process of its own: the thread count is process-wide, and changing it inside the test runner races
    /// with every test running beside it. With two threads a batch is split over the cores and each GEMM may be
    /// split over BLAS threads; neither may change a bit.
    @Test("real process: clipcl extract with --threads 1 and --threads 2 → bit-identical caches")
    func oneAndTwoThreadsAgree() throws {
        let binary = TestSupport.clipcl.path
        try #require(FileManager.default.isExecutableFile(atPath: binary), "no clipcl binary next to the test bundle at \(binary)")
        let data = try CacheFixtures.temporaryDirectory("data")
        let one = try CacheFixtures.temporaryDirectory("one"), two = try CacheFixtures.temporaryDirectory("two")
        defer { for d in [data, one, two] { try? FileManager.default.removeItem(at: d) } }
        try CacheFixtures.writeMNIST(count: 21, into: data)
        for (out, threads) in [(one, "1"), (two, "2")] {
            let r = try TestSupport.run(binary, ["extract", "--model", CacheFixtures.modelPath, "--dataset", "mnist", "--root", data.path,
                                                 "--split", "train", "--out", out.path, "--batch-size", "7", "--threads", threads])
            try #require(r.status == 0, "--threads \(threads): \(r.stderr)")
        }
        let diff = CacheFixtures.difference(try CacheFixtures.snapshot(one), try CacheFixtures.snapshot(two))
        #expect(diff == nil, "\(diff ?? "")")
    }

    @Test("a failed shard write (rename refused) leaves no temporary file and no partial shard; a rerun completes")
    func writeFailureLeavesNoDebris() throws {
        let data = try CacheFixtures.temporaryDirectory("data")
        let reference = try CacheFixtures.temporaryDirectory("ref"), out = try CacheFixtures.temporaryDirectory("out")
        defer { for d in [data, reference, out] { try? FileManager.default.removeItem(at: d) } }
        let samples = try CacheFixtures.mnistSamples(count: 20, dir: data)
        let clip = try CacheFixtures.loadModel()
        let sha = try CacheFixtures.checkpointSHA(clip)
        _ = try CacheFixtures.extractor(clip, sha: sha, samples: samples).run(into: reference)
        // A folder where shard 1 must go makes its rename fail (as a full disk would fail the write).
        let blocker = out.appendingPathComponent("train-00001.safetensors")
        let ex = try CacheFixtures.extractor(clip, sha: sha, samples: samples)
        ex.afterChunk = { c in
            if c == 0 { try FileManager.default.createDirectory(at: blocker.appendingPathComponent("x"), withIntermediateDirectories: true) }
        }
        do { _ = try ex.run(into: out); Issue.record("write failure not reported") } catch {
            #expect("\(error)".contains("train-00001.safetensors"), "\(error)")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: out.path)
        #expect(!names.contains { $0.contains(".tmp") }, "temporary files left: \(names)")
        #expect(!names.contains("train-00002.safetensors"))
        try FileManager.default.removeItem(at: blocker)
        _ = try CacheFixtures.extractor(clip, sha: sha, samples: samples).run(into: out)
        #expect(CacheFixtures.difference(try CacheFixtures.snapshot(reference), try CacheFixtures.snapshot(out)) == nil)
    }

    // MARK: - Sharding

    @Test("--shard 0/3, 1/3, 2/3 then --merge → bit-identical to a single run; gaps and overlaps refused")
    func shardAndMerge() throws {
        let data = try CacheFixtures.temporaryDirectory("data"), reference = try CacheFixtures.temporaryDirectory("ref")
        let parts = try (0..<3).map { try CacheFixtures.temporaryDirectory("part\($0)") }
        let merged = FileManager.default.temporaryDirectory.appendingPathComponent("clipcl-fc-merged-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { for d in [data, reference, merged] + parts { try? FileManager.default.removeItem(at: d) } }
        let samples = try CacheFixtures.mnistSamples(count: 44, dir: data)
        let clip = try CacheFixtures.loadModel()
        let sha = try CacheFixtures.checkpointSHA(clip)
        _ = try CacheFixtures.extractor(clip, sha: sha, samples: samples).run(into: reference)
        for (i, dir) in parts.enumerated() {
            let s = try CacheFixtures.extractor(clip, sha: sha, samples: samples) { $0.part = CachePart(index: i, count: 3) }.run(into: dir)
            #expect(s.shardsOwned == [2, 2, 2][i] && s.shardsTotal == 6)
        }
        // A part folder alone is not a readable cache.
        #expect(throws: FeatureCacheError.self) { try FeatureCache.open(parts[0]).split(.train) }
        // Gap: part 2 missing. Overlap: part 0 twice.
        do { _ = try FeatureCacheMerger.merge(parts: [parts[0], parts[1]], into: merged); Issue.record("gap not detected") } catch {
            #expect("\(error)".contains("gap") && "\(error)".contains("train-00002.safetensors"), "\(error)")
        }
        do { _ = try FeatureCacheMerger.merge(parts: [parts[0], parts[1], parts[2], parts[0]], into: merged); Issue.record("overlap not detected") } catch {
            #expect("\(error)".contains("overlap"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: merged.appendingPathComponent("meta.json").path))

        // Leftovers of an interrupted merge (a copied shard, a temporary file) do not block a rerun.
        try FileManager.default.createDirectory(at: merged, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: parts[1].appendingPathComponent("train-00001.safetensors"),
                                         to: merged.appendingPathComponent("train-00001.safetensors"))
        try Data([1, 2, 3]).write(to: merged.appendingPathComponent(".train-00004.safetensors.tmp-1-1"))
        let summary = try FeatureCacheMerger.merge(parts: parts.reversed(), into: merged)
        #expect(summary.shards == 6 && summary.samples == 44)
        let diff = CacheFixtures.difference(try CacheFixtures.snapshot(reference), try CacheFixtures.snapshot(merged))
        #expect(diff == nil, "merged cache differs from the single run: \(diff ?? "")")
    }

    // MARK: - Safety checks

    @Test("a second writer on a locked cache fails naming the holder's pid")
    func lockHeld() throws {
        let data = try CacheFixtures.temporaryDirectory("data"), out = try CacheFixtures.temporaryDirectory("out")
        defer { try? FileManager.default.removeItem(at: data); try? FileManager.default.removeItem(at: out) }
        let samples = try CacheFixtures.mnistSamples(count: 16, dir: data)
        let clip = try CacheFixtures.loadModel()
        let sha = try CacheFixtures.checkpointSHA(clip)
        let first = try CacheFixtures.extractor(clip, sha: sha, samples: samples)
        var secondError: String? = nil
        first.afterChunk = { c in
            guard c == 0 else { return }
            let second = try CacheFixtures.extractor(clip, sha: sha, samples: samples)
            do { _ = try second.run(into: out) } catch { secondError = "\(error)" }
        }
        _ = try first.run(into: out)
        #expect(secondError?.contains("locked by another writer (pid \(getpid()))") == true, "\(secondError ?? "no error")")
        #expect(secondError?.contains("\n") == false)
        // Released afterwards: the lock file is empty and a new writer gets in.
        #expect(try Data(contentsOf: out.appendingPathComponent(".lock")).isEmpty)
        let lock = try CacheLock.acquire(out)
        lock.release()
    }

    @Test("refuses to add to a cache made with another checkpoint, preprocessing, storage or compute dtype, or dataset size")
    func refusesToMix() throws {
        let data = try CacheFixtures.temporaryDirectory("data"), out = try CacheFixtures.temporaryDirectory("out")
        defer { try? FileManager.default.removeItem(at: data); try? FileManager.default.removeItem(at: out) }
        let samples = try CacheFixtures.mnistSamples(count: 12, dir: data)
        var clip = try CacheFixtures.loadModel()
        let sha = try CacheFixtures.checkpointSHA(clip)
        _ = try CacheFixtures.extractor(clip, sha: sha, samples: samples).run(into: out)
        let before = try CacheFixtures.snapshot(out)

        func refusal(_ body: () throws -> Void) -> String {
            do { try body(); return "no error" } catch { return "\(error)" }
        }
        let otherSHA = refusal { _ = try CacheFixtures.extractor(clip, sha: String(repeating: "ab", count: 32), samples: samples).run(into: out) }
        #expect(otherSHA.contains("refusing") && otherSHA.contains("checkpoint sha256"), "\(otherSHA)")
        let dtype = refusal { _ = try CacheFixtures.extractor(clip, sha: sha, samples: samples) { $0.dtype = .f32 }.run(into: out) }
        #expect(dtype.contains("dtype F16 vs F32"), "\(dtype)")
        var bf16 = clip
        try bf16.model.vision.setDType(.bf16)
        let compute = refusal { _ = try CacheFixtures.extractor(bf16, sha: sha, samples: samples).run(into: out) }
        #expect(compute.contains("compute dtype f32 vs bf16"), "\(compute)")
        var int8 = clip
        try int8.model.vision.setDType(.int8)
        let quantized = refusal { _ = try CacheFixtures.extractor(int8, sha: sha, samples: samples).run(into: out) }
        #expect(quantized.contains("compute dtype f32 vs int8"), "\(quantized)")
        let limit = refusal { _ = try CacheFixtures.extractor(clip, sha: sha, samples: samples) { $0.limit = 5 }.run(into: out) }
        #expect(limit.contains("refusing"), "\(limit)")
        clip.preprocess.mean = [0.5, 0.5, 0.5]
        let preprocessing = refusal { _ = try CacheFixtures.extractor(clip, sha: sha, samples: samples).run(into: out) }
        #expect(preprocessing.contains("preprocessing"), "\(preprocessing)")
        for m in [otherSHA, dtype, compute, quantized, limit, preprocessing] { #expect(!m.contains("\n")) }
        #expect(CacheFixtures.difference(before, try CacheFixtures.snapshot(out)) == nil, "a refused run must not touch the cache")
    }

    @Test("--views 3: deterministic extra views stored as view_features [n, 2, D]")
    func augmentedViews() throws {
        let data = try CacheFixtures.temporaryDirectory("data")
        let a = try CacheFixtures.temporaryDirectory("a"), b = try CacheFixtures.temporaryDirectory("b")
        defer { for d in [data, a, b] { try? FileManager.default.removeItem(at: d) } }
        var samples = try CacheFixtures.mnistSamples(count: 10, dir: data)
        // Images 0 and 5 made uniform: every crop and flip of a uniform image is the same image, so their views
        // must give their own plain features; the other images' views must not.
        guard case let .pixels(batch) = samples.content else { Issue.record("MNIST samples are not pixels"); return }
        var pixels = batch.pixels
        for (image, value) in [(0, UInt8(90)), (5, UInt8(200))] {
            for i in 0..<batch.bytesPerImage { pixels[image * batch.bytesPerImage + i] = value }
        }
        samples.content = .pixels(RawImageBatch(width: batch.width, height: batch.height, channels: batch.channels,
                                                count: batch.count, pixels: pixels))
        let clip = try CacheFixtures.loadModel()
        let sha = try CacheFixtures.checkpointSHA(clip)
        _ = try CacheFixtures.extractor(clip, sha: sha, samples: samples) { $0.views = 3 }.run(into: a)
        _ = try CacheFixtures.extractor(clip, sha: sha, samples: samples) { $0.views = 3 }.run(into: b)
        #expect(CacheFixtures.difference(try CacheFixtures.snapshot(a), try CacheFixtures.snapshot(b)) == nil)
        let cache = try FeatureCache.open(a)
        let plain = try cache.split(.train).features
        let views = try #require(try cache.viewFeatures(.train))
        let d = clip.model.config.embedDim
        #expect(views.shape == [10, 2, d])
        func maxDifference(view v: Int, of image: Int, from other: Int) -> Float {
            (0..<d).map { abs(views.storage[(image * 2 + v) * d + $0] - plain.storage[other * d + $0]) }.max()!
        }
        var augmented = 0
        for image in 0..<10 {
            for v in 0..<2 {
                if image == 0 || image == 5 {
                    #expect(maxDifference(view: v, of: image, from: image) < 1e-5, "uniform image \(image), view \(v)")
                    #expect(maxDifference(view: v, of: image, from: image == 0 ? 5 : 0) > 1e-3)
                } else if maxDifference(view: v, of: image, from: image) > 1e-4 {
                    augmented += 1
                }
            }
        }
        // A view may legitimately be the whole image unflipped (a crop of ≥ 96.5 % of the area rounds to 28 px, and
        // no flip: about 1 in 11); most are not.
        #expect(augmented >= 12, "only \(augmented) of 16 views of the noisy images differ from the image")
        #expect(views.storage[(1 * 2) * d..<(1 * 2 + 1) * d] != views.storage[(1 * 2 + 1) * d..<(1 * 2 + 2) * d])
    }

    // MARK: - Interop

    @Test("Python's safetensors package reads a shard as Swift does (values, labels, ids, sha256)",
          .enabled(if: CacheFixtures.python != nil || TestSupport.interopRequired,
                   "python3 with the safetensors and numpy packages was not found (pip install safetensors numpy, or set CLIPCL_PYTHON): skipping the Python interop check"))
    func pythonReadsShard() throws {
        try #require(CacheFixtures.python != nil, "CLIPCL_REQUIRE_INTEROP=1 but no Python with safetensors and numpy (CLIPCL_PYTHON='\(ProcessInfo.processInfo.environment["CLIPCL_PYTHON"] ?? "")')")
        let data = try CacheFixtures.temporaryDirectory("data"), out = try CacheFixtures.temporaryDirectory("out")
        defer { try? FileManager.default.removeItem(at: data); try? FileManager.default.removeItem(at: out) }
        let samples = try CacheFixtures.mnistSamples(count: 10, dir: data)
        let clip = try CacheFixtures.loadModel()
        _ = try CacheFixtures.extractor(clip, sha: try CacheFixtures.checkpointSHA(clip), samples: samples).run(into: out)
        let swift = try FeatureCache.open(out).split(.train)
        let script = """
            import sys, json, hashlib
            import numpy as np
            from safetensors.numpy import load_file
            from safetensors import safe_open
            path = sys.argv[1]
            t = load_file(path)
            with safe_open(path, framework="np") as f:
                md = f.metadata()
            f, l = t["features"], t["labels"]
            sha = hashlib.sha256(f.tobytes() + l.tobytes()).hexdigest()
            print(json.dumps({"dtype": str(f.dtype), "shape": list(f.shape), "features": f.astype(np.float32).ravel().tolist(),
                              "labels": l.tolist(), "ids": json.loads(md["ids"]), "sha_ok": sha == md["sha256"],
                              "first_index": int(md["first_index"])}))
            """
        let r = try CacheFixtures.pythonCommand(script, [out.appendingPathComponent("train-00000.safetensors").path])
        #expect(r.status == 0, "python failed: \(r.stderr)")
        struct PyShard: Decodable {
            let dtype: String, shape: [Int], features: [Float], labels: [Int], ids: [String]
            let sha_ok: Bool, first_index: Int
        }
        let py = try JSONDecoder().decode(PyShard.self, from: Data(r.stdout.utf8))
        let d = clip.model.config.embedDim
        #expect(py.dtype == "float16" && py.shape == [8, d])
        #expect(py.features == Array(swift.features.storage[0..<(8 * d)]))
        #expect(py.labels == Array(swift.labels[0..<8]) && py.ids == Array(swift.ids[0..<8]))
        #expect(py.sha_ok && py.first_index == 0)
    }

    @Test(".npy import round trip (f4/f2/i8/i4) and strict .npy validation")
    func npyImportRoundTrip() throws {
        let dir = try CacheFixtures.temporaryDirectory("npy"), out = try CacheFixtures.temporaryDirectory("imported")
        defer { try? FileManager.default.removeItem(at: dir); try? FileManager.default.removeItem(at: out) }
        var rng = RandomGenerator(seed: 3)
        let (n, m, c, d) = (25, 7, 4, 6)
        let train = try Tensor(shape: [n, d], storage: (0..<(n * d)).map { _ in rng.normal() })
        let test = try Tensor(shape: [m, d], storage: (0..<(m * d)).map { _ in rng.normal() })
        let text = try Tensor(shape: [c, d], storage: (0..<(c * d)).map { _ in rng.normal() })
        let trainLabels = (0..<n).map { Int64($0 % c) }, testLabels = (0..<m).map { Int32(($0 * 3) % c) }
        try NPYWriter.data(train).write(to: dir.appendingPathComponent("train.npy"))
        try NPYWriter.data(labels: trainLabels).write(to: dir.appendingPathComponent("train_labels.npy"))
        let halves = test.storage.map { HalfFloat.f16FromFloat($0) }
        try NPYWriter.data(shape: [m, d], descr: "<f2", payload: halves.withUnsafeBytes { Data($0) }).write(to: dir.appendingPathComponent("test.npy"))
        try NPYWriter.data(shape: [m], descr: "<i4", payload: testLabels.withUnsafeBytes { Data($0) }).write(to: dir.appendingPathComponent("test_labels.npy"))
        var st = SafeTensorsWriter()
        try st.add("text", text)
        try st.write(to: dir.appendingPathComponent("text.safetensors"))

        let trainArray = try ImportedArray.load(dir.appendingPathComponent("train.npy").path)
        #expect(trainArray.shape == [n, d] && trainArray.dtype == "F32")
        let testArray = try ImportedArray.load(dir.appendingPathComponent("test.npy").path)
        let textArray = try ImportedArray.load(dir.appendingPathComponent("text.safetensors").path + ":text")
        _ = try FeatureCacheImporter.write(
            into: out, dataset: "toy", classNames: ["a", "b", "c", "d"], logitScale: 100, modelID: "imported", dtype: .f32, chunkSize: 10,
            train: ImportSplit(features: try trainArray.tensor(), labels: try ImportedArray.load(dir.appendingPathComponent("train_labels.npy").path).labels()),
            test: ImportSplit(features: try testArray.tensor(), labels: try ImportedArray.load(dir.appendingPathComponent("test_labels.npy").path).labels()),
            textFeatures: try textArray.tensor(), templates: [])
        let cache = try FeatureCache.open(out)
        #expect(cache.meta.split(.train)?.shards == 3 && cache.meta.checkpointSHA256 == nil && cache.meta.logitScale == 100)
        let r = try cache.split(.train)
        #expect(r.features == train && r.labels == trainLabels.map { Int($0) } && r.ids.first == "train/00000")
        let t = try cache.split(.test)
        #expect(t.features.storage == halves.map { HalfFloat.floatFromF16($0) } && t.labels == testLabels.map { Int($0) })
        #expect(try cache.textFeatures().classifier.maxAbsDifference(try text.l2Normalized())! < 1e-6)
        try cache.verifyAll()

        // Strictness.
        func npyError(_ bytes: Data) -> String {
            let url = dir.appendingPathComponent("bad.npy")
            do { try bytes.write(to: url); _ = try NPYReader.read(url); return "accepted" } catch { return "\(error)" }
        }
        let good = NPYWriter.data(shape: [2], descr: "<f4", payload: Data(count: 8))
        #expect(npyError(Data("NOTNUMPY".utf8)).contains("magic"))
        #expect(npyError(NPYWriter.data(shape: [2], descr: ">f4", payload: Data(count: 8))).contains("not supported"))
        #expect(npyError(NPYWriter.data(shape: [2], descr: "<f8", payload: Data(count: 16))).contains("not supported"))
        #expect(npyError(good.dropLast(1)).contains("bytes"))
        var fortran = good
        let at = try #require(fortran.range(of: Data("False".utf8)))
        fortran.replaceSubrange(at, with: Data("True ".utf8))
        #expect(npyError(fortran).contains("fortran_order"))
        #expect(npyError(good) == "accepted")
    }

    // MARK: - Benchmarks

    @Test("benchmark lookups: class orders, names, templates, unknown names")
    func benchmarks() throws {
        let cifar = try Benchmark.named("cifar100")
        #expect(try Array(cifar.classOrder().prefix(5)) == [87, 0, 52, 58, 44])
        #expect(try cifar.classOrder().sorted() == Array(0..<100))
        #expect(try cifar.classNames()?.first == "apple" && cifar.templates() == ["a bad photo of a {}."])
        #expect(try cifar.templates("rapf") == ["a good photo of a {}."])
        #expect(try cifar.templates("clip_imagenet_80").count == 80 && cifar.templates("clip_cifar_18").count == 18)
        let fashion = try Benchmark.named("fashion-mnist")
        #expect(try fashion.classNames() == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"])
        #expect(try fashion.classOrder() == Array(0..<10) && fashion.templates() == ["a photo of a {}."])
        #expect(fashion.defaultRoot == "/usr/share/datasets/fashion-mnist")
        #expect(try Benchmark.named("mnist").classNames() == (0..<10).map(String.init))
        #expect(try Benchmark.named("imagenet_r").name == "imagenet-r")
        #expect(try Benchmark.named("imagenet-r").classOrder().count == 200)
        #expect(try Benchmark.named("imagenet100").templates() == ["a good photo of a {}."])
        #expect(try Benchmark.named("cub200").classNames()?.count == 200)
        do { _ = try Benchmark.named("cifar1000"); Issue.record("unknown name accepted") } catch {
            #expect("\(error)".contains("unknown dataset 'cifar1000'") && "\(error)".contains("fashion-mnist"))
        }
        #expect(throws: BenchmarkError.self) { try cifar.templates("no_such_set") }
    }
}
