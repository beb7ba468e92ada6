// tools/extract_torch.py (PyTorch encoding of a `clipcl extract --plan`) against clipcl's own extraction: the same
// cache (meta.json and text features byte for byte, the same ids, labels and skipped images, features within 1e-5
// in fp32, cosine 0.999 in bf16), for both fixture layouts (transformers and open_clip), a folder of real and awkward images and an IDX
// dataset; its --shard parts merge with `clipcl extract --merge` and pass `clipcl features verify`.

import Foundation
import Testing
import TestSupport

@Suite("tools/extract_torch.py", .serialized)
struct ExtractTorchTests {
    static let tools = TestSupport.repositoryRoot.appendingPathComponent("tools")
    /// An interpreter with torch, transformers, open_clip (through tools/torchvision_compat.py), pillow and safetensors.
    static let python = TestSupport.python(importing: "torch, transformers, PIL, safetensors, numpy",
                                           after: TestSupport.torchvisionShim + "; import open_clip")
    static let hfTiny = TestSupport.fixtures.appendingPathComponent("clip/hf-tiny").path
    static let openCLIPTiny = TestSupport.fixtures.appendingPathComponent("clip/openclip-tiny").path

    /// Writes class folders of real fixture photos (JPEG, PNG, CMYK JPEG, gray) and images made to reach every branch
    /// of the decoder mapping and the preprocessing: partial alpha, LA, palette with transparency, 1-bit, a tall image
    /// (Pillow 13 would resize it vertical pass first), 16-bit gray and a truncated JPEG (both skipped by clipcl).
    static let makeImages = """
        import os, shutil, sys
        import numpy as np
        from PIL import Image
        root, photos = sys.argv[1], sys.argv[2]
        rng = np.random.default_rng(3)
        def put(cls, name, im=None, **kw):
            os.makedirs(os.path.join(root, cls), exist_ok=True)
            if im is None: shutil.copy(os.path.join(photos, name), os.path.join(root, cls, name))
            else: im.save(os.path.join(root, cls, name), **kw)
        for name in ["chelsea_107x71.jpg", "astronaut_160x120.png", "cmyk_40x44.jpg"]: put("cat", name)
        for name in ["camera_96x128.png", "coffee_160x107.jpg", "camera_96x128.jpg"]: put("dog", name)
        rgba = rng.integers(0, 256, (37, 29, 4), dtype=np.uint8)
        rgba[..., 3] = np.where(rng.random((37, 29)) < 0.3, 255, rgba[..., 3])
        put("odd", "rgba.png", Image.fromarray(rgba, "RGBA"))
        put("odd", "la.png", Image.fromarray(rng.integers(0, 256, (42, 30, 2), dtype=np.uint8), "LA"))
        p = Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).convert("P", palette=Image.ADAPTIVE, colors=16)
        put("odd", "palette.png", p, transparency=3)
        put("odd", "bits.png", Image.fromarray(rng.random((26, 20)) < 0.5).convert("1"))
        put("odd", "tall.png", Image.fromarray(rng.integers(0, 256, (200, 60, 3), dtype=np.uint8)))
        put("odd", "gray.jpg", Image.fromarray(rng.integers(0, 256, (47, 39), dtype=np.uint8)), quality=80)
        put("odd", "deep.png", Image.fromarray(rng.integers(0, 65536, (20, 24), dtype=np.uint16)))
        with open(os.path.join(photos, "coffee_160x107.jpg"), "rb") as f: data = f.read()
        with open(os.path.join(root, "odd", "truncated.jpg"), "wb") as f: f.write(data[: len(data) // 3])
        """

    /// Reads two caches' shards of `split` with numpy: "ids labels skipped equal" and the largest feature difference.
    static let compareShards = """
        import json, sys
        import numpy as np
        from safetensors import safe_open
        a_dir, b_dir, split, shards = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
        worst, cosine, same = 0.0, 1.0, True
        for c in range(shards):
            name = f"{split}-{c:05d}.safetensors"
            with safe_open(f"{a_dir}/{name}", "np") as a, safe_open(f"{b_dir}/{name}", "np") as b:
                ma, mb = a.metadata(), b.metadata()
                same &= all(json.loads(ma[k]) == json.loads(mb[k]) for k in ("ids", "skipped", "first_index"))
                same &= bool((a.get_tensor("labels") == b.get_tensor("labels")).all())
                fa, fb = a.get_tensor("features").astype(np.float64), b.get_tensor("features").astype(np.float64)
                same &= fa.shape == fb.shape
                if fa.shape == fb.shape and fa.size:
                    worst = max(worst, float(np.abs(fa - fb).max()))
                    cos = (fa * fb).sum(1) / np.linalg.norm(fa, axis=1) / np.linalg.norm(fb, axis=1)
                    cosine = min(cosine, float(cos.min()))
        print("same" if same else "different", worst, cosine)
        """

    func clipcl(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try TestSupport.run(TestSupport.clipcl.path, args)
    }

    func torchTool(_ python: String, _ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try TestSupport.run(python, [Self.tools.appendingPathComponent("extract_torch.py").path, "--device", "cpu", "--quiet"] + args)
    }

    func file(_ dir: URL, _ name: String) throws -> Data { try Data(contentsOf: dir.appendingPathComponent(name)) }

    /// clipcl extract into REF; clipcl extract --plan; the tool in `parts` processes; merge when sharded; then every
    /// file compared. Returns the merged (or single) folder.
    /// `dtype` f32: features within 1e-5 of clipcl's; bf16 (torch.autocast against clipcl's bf16 tower): cosine ≥ 0.999.
    func check(python: String, model: String, dataset: [String], split: String, parts: Int, root: URL,
               expectSkipped: Int, dtype: String = "f32") throws {
        let options = dataset + ["--model", model, "--split", split, "--chunk-size", "4", "--batch-size", "3", "--storage", "f32",
                                 "--dtype", dtype]
        let reference = root.appendingPathComponent("ref"), plan = root.appendingPathComponent("plan")
        let extracted = try clipcl(["extract"] + options + ["--out", reference.path])
        try #require(extracted.status == 0, "\(extracted.stderr)")
        let planned = try clipcl(["extract"] + options + ["--plan", plan.path])
        try #require(planned.status == 0, "\(planned.stderr)")

        var folders: [URL] = []
        for i in 0..<parts {
            let out = root.appendingPathComponent(parts == 1 ? "torch" : "part\(i)")
            let r = try torchTool(python, ["--plan", plan.path, "--out", out.path] + (parts == 1 ? [] : ["--shard", "\(i)/\(parts)"]))
            try #require(r.status == 0, "extract_torch.py failed: \(r.stderr)")
            let verified = try clipcl(["features", "verify", out.path])
            #expect(verified.status == 0, "features verify \(out.lastPathComponent): \(verified.stderr)")
            folders.append(out)
        }
        var result = folders[0]
        if parts > 1 {
            result = root.appendingPathComponent("merged")
            let merged = try clipcl(["extract", "--merge", "--out", result.path] + folders.map(\.path))
            try #require(merged.status == 0, "merge of the torch parts: \(merged.stderr)")
        }
        let verified = try clipcl(["features", "verify", result.path])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(try file(result, "meta.json") == file(reference, "meta.json"), "meta.json differs from clipcl extract's")
        #expect(try file(result, "text.safetensors") == file(reference, "text.safetensors"))
        let meta = try JSONSerialization.jsonObject(with: file(reference, "meta.json")) as? [String: Any]
        let info = (meta?["splits"] as? [String: Any])?[split] as? [String: Any]
        let shards = try #require(info?["shards"] as? Int)
        #expect((info?["skipped"] as? [String])?.count == expectSkipped, "\(info?["skipped"] ?? "none")")
        let compared = try TestSupport.run(python, ["-c", Self.compareShards, reference.path, result.path, split, String(shards)])
        try #require(compared.status == 0, "\(compared.stderr)")
        let words = compared.stdout.split(separator: " ")
        #expect(words.first == "same", "ids, labels or skipped images differ: \(compared.stdout)")
        try #require(words.count == 3, "\(compared.stdout)")
        let worst = try #require(Double(words[1])), cosine = try #require(Double(words[2].trimmingCharacters(in: .whitespacesAndNewlines)))
        if dtype == "f32" {
            #expect(worst <= 1e-5, "\(model): largest feature difference \(worst)")
        } else {
            #expect(cosine >= 0.999, "\(model) \(dtype): smallest cosine \(cosine)")
        }
    }

    @Test(.enabled(if: python != nil || TestSupport.interopRequired,
                   "no Python with torch, transformers, open_clip and pillow (tools/python-interop-venv.sh, or set CLIPCL_PYTHON): skipping the extract_torch.py checks"))
    func matchesClipclExtractOnBothLayouts() throws {
        let python = try #require(Self.python, "CLIPCL_REQUIRE_INTEROP=1 but no Python with torch, transformers, open_clip and pillow")
        let root = try CacheFixtures.temporaryDirectory("torch")
        defer { try? FileManager.default.removeItem(at: root) }
        let images = root.appendingPathComponent("images"), mnist = root.appendingPathComponent("mnist")
        let made = try TestSupport.run(python, ["-c", Self.makeImages, images.path, TestSupport.fixtures.appendingPathComponent("images").path])
        try #require(made.status == 0, "\(made.stderr)")
        try FileManager.default.createDirectory(at: mnist, withIntermediateDirectories: true)
        try CacheFixtures.writeMNIST(count: 10, into: mnist)

        for (k, model) in [Self.hfTiny, Self.openCLIPTiny].enumerated() {
            let dir = root.appendingPathComponent("folder-\(k)")
            try check(python: python, model: model, dataset: ["--dataset", "folder", "--root", images.path], split: "train", parts: 2,
                      root: dir, expectSkipped: 2)
        }
        try check(python: python, model: Self.openCLIPTiny, dataset: ["--dataset", "mnist", "--root", mnist.path], split: "test",
                  parts: 1, root: root.appendingPathComponent("mnist-run"), expectSkipped: 0)
        try check(python: python, model: Self.hfTiny, dataset: ["--dataset", "folder", "--root", images.path], split: "train", parts: 1,
                  root: root.appendingPathComponent("folder-bf16"), expectSkipped: 2, dtype: "bf16")
    }

    @Test(.enabled(if: python != nil || TestSupport.interopRequired, "no Python with torch, transformers, open_clip and pillow"))
    func refusesAnotherModelAndResumes() throws {
        let python = try #require(Self.python)
        let root = try CacheFixtures.temporaryDirectory("torch-bad")
        defer { try? FileManager.default.removeItem(at: root) }
        let mnist = root.appendingPathComponent("mnist"), plan = root.appendingPathComponent("plan"), out = root.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: mnist, withIntermediateDirectories: true)
        try CacheFixtures.writeMNIST(count: 10, into: mnist)
        let planned = try clipcl(["extract", "--model", Self.hfTiny, "--dataset", "mnist", "--root", mnist.path, "--split", "train",
                                  "--chunk-size", "4", "--plan", plan.path])
        try #require(planned.status == 0, "\(planned.stderr)")

        // Other weights than the plan's (one weight byte changed): one line, non-zero, nothing written but the lock file.
        let other = root.appendingPathComponent("other-model")
        try FileManager.default.copyItem(atPath: Self.hfTiny, toPath: other.path)
        var weights = try Data(contentsOf: other.appendingPathComponent("model.safetensors"))
        weights[weights.count - 1] ^= 1
        try weights.write(to: other.appendingPathComponent("model.safetensors"))
        let wrong = try torchTool(python, ["--plan", plan.path, "--out", out.path, "--model", other.path])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.hasPrefix("extract_torch: ") && wrong.stderr.contains("checkpoint sha256"), "\(wrong.stderr)")
        #expect(wrong.stderr.split(separator: "\n").count == 1, "\(wrong.stderr)")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
        #expect(names.allSatisfy { $0 == ".lock" }, "\(names)")

        // A lost shard is encoded again by a rerun, to the same bytes (CPU, same batches).
        let first = try torchTool(python, ["--plan", plan.path, "--out", out.path])
        try #require(first.status == 0, "\(first.stderr)")
        let shard = out.appendingPathComponent("train-00001.safetensors")
        let before = try Data(contentsOf: shard), meta = try file(out, "meta.json")
        try FileManager.default.removeItem(at: shard)
        let rerun = try torchTool(python, ["--plan", plan.path, "--out", out.path, "--json"])
        try #require(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stdout.contains("\"shards_written\": 1"), "\(rerun.stdout)")
        #expect(try Data(contentsOf: shard) == before)
        #expect(try file(out, "meta.json") == meta)

        // What the plan cannot describe is refused by clipcl.
        for (flag, value) in [("--views", "2"), ("--shard", "0/2"), ("--dtype", "int8")] {
            let r = try clipcl(["extract", "--model", Self.hfTiny, "--dataset", "mnist", "--root", mnist.path, "--split", "train",
                                "--plan", root.appendingPathComponent("plan2").path, flag, value])
            #expect(r.status != 0 && r.stderr.contains("plan"), "\(flag) \(value): \(r.stderr)")
        }
    }
}
