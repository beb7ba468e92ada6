import Foundation
import Testing
import TestSupport
@testable import CLIP
@testable import TensorKit

/// Loading models by hub id from the hub imitation, serving the file lists of the real repos
/// (Tests/Fixtures/hub/manifest.json) with random-weight checkpoints written by transformers, open_clip, timm and
/// torch; embeddings are compared with what those libraries computed from the same folders.
@Suite struct HubModelTests {
    static let repos = ["openai/clip-vit-base-patch32", "timm/vit_base_patch16_clip_224.openai", "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"]

    /// The file each repo's model is loaded from, and the layout it gives.
    static let weights = ["openai/clip-vit-base-patch32": ("pytorch_model.bin", CheckpointLayout.huggingFace),
                          "timm/vit_base_patch16_clip_224.openai": ("open_clip_model.safetensors", .openCLIP),
                          "laion/CLIP-ViT-B-32-laion2B-s34B-b79K": ("model.safetensors", .huggingFace)]

    func client(_ hub: HubImitation?, cache: URL, offline: Bool = false) -> HubClient {
        var c = HubClient(endpoint: hub?.endpoint ?? URL(string: "http://127.0.0.1:9")!, cacheDirectory: cache, offline: offline,
                          environment: [:], progress: nil)
        c.retryDelay = 0.01
        return c
    }

    /// Embeddings of the expected pixels and token ids, compared with the reference library's.
    static func checkEmbeddings(_ clip: LoadedCLIP, repo: String) throws {
        let expected = try SafeTensorsFile(contentsOf: HubFixtures.root.appendingPathComponent("hub/expected.safetensors"))
        let ids = try clip.tokenize(try HubFixtures.manifest().texts)
        let reference = try expected.int64s("input_ids")
        // HF pads with 49407 and OpenAI with 0 after the end-of-text token; the tokens up to it agree.
        for (row, r) in ids.enumerated() {
            let n = r.firstIndex(of: 49407)! + 1
            #expect(r.prefix(n).map(Int64.init) == Array(reference[(row * 77)..<(row * 77 + n)]), "\(repo) row \(row)")
        }
        let image = try clip.model.encodeImages(try expected.tensor("pixel_values"))
        let text = try clip.model.encodeTexts(ids)
        let refImage = try expected.tensor("\(repo).image_features"), refText = try expected.tensor("\(repo).text_features")
        #expect(try #require(image.maxAbsDifference(refImage)) <= 1e-4, "\(repo) image")
        #expect(try #require(text.maxAbsDifference(refText)) <= 1e-4, "\(repo) text")
    }

    @Test(arguments: repos)
    func realRepoLayoutsLoadTheRightFilesAndThenWorkOffline(_ repo: String) throws {
        let hub = try HubImitation()
        defer { hub.stop() }
        let dir = try HubTestDirectory()
        let manifest = try HubFixtures.manifest()
        let commit = try hub.publish(repo, manifest: try #require(manifest.repos[repo]))

        let clip = try ModelSource.load(repo, options: ModelLoadOptions(hub: client(hub, cache: dir.url)))
        let (file, layout) = try #require(Self.weights[repo])
        #expect(clip.layout == layout)
        #expect(clip.revision == commit)
        #expect(clip.weightFiles.map(\.lastPathComponent) == [file])
        try Self.checkEmbeddings(clip, repo: repo)

        // Only what the model needs was downloaded: never timm's image-tower files, TF/Flax weights, or a second
        // copy of the weights in another format.
        let downloaded = Set(hub.downloadedPaths)
        #expect(downloaded.contains(file))
        let needed: Set<String> = layout == .huggingFace
            ? [file, "config.json", "preprocessor_config.json", "vocab.json", "merges.txt"]
            : [file, "open_clip_config.json", "config.json"]
        #expect(downloaded.isSubset(of: needed), "\(repo) downloaded \(downloaded.subtracting(needed).sorted())")

        // The second run needs no network at all.
        hub.resetLog()
        let again = try ModelSource.load(repo, options: ModelLoadOptions(hub: client(hub, cache: dir.url, offline: true)))
        try Self.checkEmbeddings(again, repo: repo)
        #expect(again.revision == commit)
        #expect(hub.requests.isEmpty, "\(hub.requests)")
    }

    /// Without open_clip_model.safetensors the same repo loads open_clip_pytorch_model.bin (the same weights).
    @Test func openCLIPPickleIsUsedWhenThereIsNoSafetensors() throws {
        let hub = try HubImitation()
        defer { hub.stop() }
        let dir = try HubTestDirectory()
        let repo = "timm/vit_base_patch16_clip_224.openai"
        try hub.publish(repo, manifest: try #require(try HubFixtures.manifest().repos[repo]), skipping: ["open_clip_model.safetensors"])
        let clip = try ModelSource.load("hf-hub:" + repo, options: ModelLoadOptions(hub: client(hub, cache: dir.url)))
        #expect(clip.weightFiles.map(\.lastPathComponent) == ["open_clip_pytorch_model.bin"])
        try Self.checkEmbeddings(clip, repo: repo)
    }

    @Test func revisionsAndTheirSpellings() throws {
        let hub = try HubImitation()
        defer { hub.stop() }
        let dir = try HubTestDirectory()
        let repo = "openai/clip-vit-base-patch32"
        let manifest = try #require(try HubFixtures.manifest().repos[repo])
        try hub.publish(repo, manifest: manifest, skipping: ["pytorch_model.bin"])   // main: no weights at all
        let pr = hub.publish(repo, revision: "refs/pr/66",
                             files: Dictionary(uniqueKeysWithValues: try manifest.files.filter { $0.source != "placeholder" }.map {
                                 ($0.path, try Data(contentsOf: HubFixtures.root.appendingPathComponent($0.source)))
                             }), lfs: ["pytorch_model.bin"])
        let c = client(hub, cache: dir.url)
        let error = #expect(throws: CLIPError.self) { try ModelSource.load(repo, options: ModelLoadOptions(hub: c)) }
        #expect("\(error!)" == "hub repo 'openai/clip-vit-base-patch32' at 'main': has an HF CLIP config.json, but none of "
                + "model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json")
        let atPR = try ModelSource.load(repo + "@refs/pr/66", options: ModelLoadOptions(hub: c))
        #expect(atPR.revision == pr)
        try Self.checkEmbeddings(atPR, repo: repo)
        let viaOption = try ModelSource.load(repo, options: ModelLoadOptions(hub: c, revision: "refs/pr/66"))
        #expect(viaOption.revision == pr)
        #expect(throws: CLIPError.self) { try ModelSource.load(repo + "@v1", options: ModelLoadOptions(hub: c, revision: "v2")) }
    }

    @Test func misspelledAndGatedReposSaySo() throws {
        let hub = try HubImitation()
        defer { hub.stop() }
        let dir = try HubTestDirectory()
        let repo = "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"
        try hub.publish(repo, manifest: try #require(try HubFixtures.manifest().repos[repo]))
        let c = client(hub, cache: dir.url)
        let misspelled = #expect(throws: HubError.self) {
            try ModelSource.load("laion/CLIP-ViT-B-32-laion2B-s43B-b79K", options: ModelLoadOptions(hub: c))
        }
        #expect("\(misspelled!)".hasPrefix("hub repo 'laion/CLIP-ViT-B-32-laion2B-s43B-b79K' not found at "))
        hub.gate(repo, token: "hf_right")
        let gated = #expect(throws: HubError.self) { try ModelSource.load(repo, options: ModelLoadOptions(hub: c)) }
        #expect("\(gated!)".hasPrefix("hub repo 'laion/CLIP-ViT-B-32-laion2B-s34B-b79K' is gated"))
        #expect(hub.downloadedPaths.isEmpty)
    }

    /// A repo that is not a CLIP checkpoint: a timm config.json and nothing of open_clip's.
    @Test func aTimmOnlyRepoIsNotTakenForCLIP() throws {
        let hub = try HubImitation()
        defer { hub.stop() }
        let dir = try HubTestDirectory()
        let timm = HubFixtures.root.appendingPathComponent("hub/timm-vit_base_patch16_clip_224.openai")
        hub.publish("timm/vit_only", files: ["config.json": try Data(contentsOf: timm.appendingPathComponent("config.json")),
                                             "model.safetensors": try Data(contentsOf: timm.appendingPathComponent("model.safetensors"))],
                    lfs: ["model.safetensors"])
        let error = #expect(throws: CLIPError.self) {
            try ModelSource.load("timm/vit_only", options: ModelLoadOptions(hub: client(hub, cache: dir.url)))
        }
        #expect("\(error!)".contains("not a CLIP checkpoint: neither an HF CLIP config.json nor open_clip_config.json"))
        #expect(hub.downloadedPaths == ["config.json"])
    }
}

/// The Hugging Face cache as huggingface_hub itself writes it: files downloaded by `hf_hub_download` (from the
/// hub imitation, in the interop venv that `make test` prepares) are used by clipcl offline, in place.
@Suite struct HuggingFaceCacheInteropTests {
    static let python = TestSupport.python(importing: "huggingface_hub")
    static let required = TestSupport.interopRequired

    @Test("A model huggingface_hub put in the cache is used offline without copying",
          .enabled(if: python != nil || required,
                   "CLIPCL_PYTHON is unset or cannot import huggingface_hub (make test prepares it): skipping the HF cache interop check"))
    func modelDownloadedByHuggingFaceHubIsUsedOffline() throws {
        let python = try #require(Self.python, "CLIPCL_REQUIRE_INTEROP=1 but CLIPCL_PYTHON (with huggingface_hub) is unavailable")
        let hub = try HubImitation()
        defer { hub.stop() }
        let dir = try HubTestDirectory()
        let repo = "openai/clip-vit-base-patch32"
        let commit = try hub.publish(repo, manifest: try #require(try HubFixtures.manifest().repos[repo]))
        // What transformers fetches for this repo (no safetensors on main), by huggingface_hub's own code.
        let files = ["config.json", "pytorch_model.bin", "preprocessor_config.json", "vocab.json", "merges.txt"]
        let script = "import sys\nfrom huggingface_hub import hf_hub_download\nfor f in sys.argv[2:]: hf_hub_download(sys.argv[1], f)"
        let r = try TestSupport.run(python, ["-c", script, repo] + files,
                             environment: ["HF_ENDPOINT": hub.endpoint.absoluteString, "HF_HUB_CACHE": dir.url.path,
                                           "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_XET": "1"])
        try #require(r.status == 0, "hf_hub_download failed: \(r.stderr)")
        hub.stop()
        let before = try Self.listing(dir.url)

        var c = HubClient(endpoint: hub.endpoint, cacheDirectory: dir.url, offline: true, environment: [:], progress: nil)
        c.retryDelay = 0.01
        let clip = try ModelSource.load(repo, options: ModelLoadOptions(hub: c))
        #expect(clip.revision == commit)
        try HubModelTests.checkEmbeddings(clip, repo: repo)
        let weights = try #require(clip.weightFiles.first)
        #expect(weights.path == dir.url.path + "/models--openai--clip-vit-base-patch32/snapshots/\(commit)/pytorch_model.bin")
        #expect(weights.resolvingSymlinksInPath().path.hasPrefix(dir.url.path + "/models--openai--clip-vit-base-patch32/blobs/"))
        #expect(HubClient.recordedSHA256(of: weights) == SHA256.hex(of: try Data(contentsOf: weights)))
        // Online too (the imitation is gone): everything needed is cached, so nothing is asked.
        _ = try ModelSource.load(repo, options: ModelLoadOptions(hub: HubClient(endpoint: hub.endpoint, cacheDirectory: dir.url,
                                                                                 offline: false, environment: [:], progress: nil)))
        #expect(try Self.listing(dir.url) == before, "clipcl changed the cache huggingface_hub wrote")
    }

    @Test("What clipcl downloads, huggingface_hub finds offline in the same place",
          .enabled(if: python != nil || required,
                   "CLIPCL_PYTHON is unset or cannot import huggingface_hub (make test prepares it): skipping the HF cache interop check"))
    func modelDownloadedByClipclIsFoundByHuggingFaceHub() throws {
        let python = try #require(Self.python, "CLIPCL_REQUIRE_INTEROP=1 but CLIPCL_PYTHON (with huggingface_hub) is unavailable")
        let hub = try HubImitation()
        defer { hub.stop() }
        let dir = try HubTestDirectory()
        let repo = "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"
        try hub.publish(repo, manifest: try #require(try HubFixtures.manifest().repos[repo]))
        let clip = try ModelSource.load(repo, options: ModelLoadOptions(hub: HubClient(endpoint: hub.endpoint, cacheDirectory: dir.url,
                                                                                        offline: false, environment: [:], progress: nil)))
        hub.stop()
        let script = "import sys\nfrom huggingface_hub import hf_hub_download\nfor f in sys.argv[2:]: print(hf_hub_download(sys.argv[1], f))"
        let r = try TestSupport.run(python, ["-c", script, repo, "model.safetensors", "config.json"],
                             environment: ["HF_ENDPOINT": hub.endpoint.absoluteString, "HF_HUB_CACHE": dir.url.path, "HF_HUB_OFFLINE": "1"])
        try #require(r.status == 0, "hf_hub_download (offline) failed: \(r.stderr)")
        let paths = r.stdout.split(separator: "\n").map(String.init)
        #expect(paths == [clip.weightFiles[0].path, clip.weightFiles[0].deletingLastPathComponent().appendingPathComponent("config.json").path])
    }

    /// Every path under `root` (symlinks not followed) with its size.
    static func listing(_ root: URL) throws -> [String: Int] {
        var out: [String: Int] = [:]
        let e = FileManager.default.enumerator(atPath: root.path)
        while let p = e?.nextObject() as? String {
            out[p] = (try FileManager.default.attributesOfItem(atPath: root.path + "/" + p)[.size] as? Int) ?? -1
        }
        return out
    }
}
