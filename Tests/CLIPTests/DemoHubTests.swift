import Foundation
import Testing
import TestSupport
@testable import CLIP

/// `clipcl demo` (what `make demo` runs) against the hub imitation: with the real file list of
/// openai/clip-vit-base-patch32 (weights only as pytorch_model.bin) it runs on those weights, and it falls back to
/// random weights only when the hub cannot be reached at all. Runs the clipcl binary built with this test bundle
/// and Debian's Fashion-MNIST (which `make test` installs).
@Suite struct DemoHubTests {
    static let binary = TestSupport.clipcl

    func demo(_ hub: URL, cache: URL, out: URL, _ extra: [String] = []) throws -> (status: Int32, stdout: String, stderr: String) {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary.path), "no clipcl binary at \(Self.binary.path)")
        return try TestSupport.run(
            Self.binary.path, ["demo", "--train-limit", "40", "--test-limit", "20", "--epochs", "1", "--out", out.path] + extra,
            environment: ["HF_ENDPOINT": hub.absoluteString, "HF_HUB_CACHE": cache.path, "HF_HUB_OFFLINE": "", "HF_TOKEN": "",
                          "CLIPCL_THREADS": "1"])
    }

    @Test func demoRunsOnTheHubsPytorchModelBin() throws {
        let hub = try HubImitation()
        defer { hub.stop() }
        let dir = try HubTestDirectory()
        let repo = "openai/clip-vit-base-patch32"
        let commit = try hub.publish(repo, manifest: try #require(try HubFixtures.manifest().repos[repo]))
        // A training-free, a statistics-keeping and a trained method (all ten take minutes in a debug build).
        let r = try demo(hub.endpoint, cache: dir.url.appendingPathComponent("hub"), out: dir.url.appendingPathComponent("out"),
                         ["--methods", "zeroshot,fecam,rapf"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("Fashion-MNIST B0Inc2, openai/clip-vit-base-patch32, 40 train / 20 test images"), "\(r.stdout)")
        for m in ["zeroshot", "fecam", "rapf"] { #expect(r.stdout.contains("\n\(m) "), "\(m) missing in \(r.stdout)") }
        #expect(!r.stdout.contains("ranpac"), "\(r.stdout)")
        #expect(!r.stdout.contains("random weights") && !r.stderr.contains("falling back"), "\(r.stdout)\n\(r.stderr)")
        #expect(hub.downloadedPaths.contains("pytorch_model.bin"))
        // The feature cache names the served weights and the commit they came from.
        let outDir = dir.url.appendingPathComponent("out")
        let cacheDir = try #require(try FileManager.default.contentsOfDirectory(atPath: outDir.path).first { $0.hasPrefix("cache-") })
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: outDir.appendingPathComponent(cacheDir + "/meta.json"))) as? [String: Any]
        let served = try Data(contentsOf: HubFixtures.root.appendingPathComponent("hub/openai-clip-vit-base-patch32/pytorch_model.bin"))
        #expect(meta?["checkpoint_sha256"] as? String == SHA256.hex(of: served))
        #expect(meta?["checkpoint_revision"] as? String == commit)
    }

    @Test func demoDoesNotFallBackWhenTheHubAnswers() throws {
        let hub = try HubImitation()
        defer { hub.stop() }
        let dir = try HubTestDirectory()
        // The hub is up but has no such repo (a 401 RepoNotFound): an error, not random weights.
        let r = try demo(hub.endpoint, cache: dir.url.appendingPathComponent("hub"), out: dir.url.appendingPathComponent("out"))
        #expect(r.status != 0)
        #expect(r.stderr.contains("hub repo 'openai/clip-vit-base-patch32' not found at"), "\(r.stderr)")
        #expect(!r.stderr.contains("falling back"), "\(r.stderr)")
    }

    @Test func demoRefusesAnUnknownMethodBeforeLoadingAnything() throws {
        let dir = try HubTestDirectory()
        let r = try demo(URL(string: "http://127.0.0.1:9")!, cache: dir.url.appendingPathComponent("hub"),
                         out: dir.url.appendingPathComponent("out"), ["--methods", "zeroshot,rapf2"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--methods: unknown method 'rapf2'"), "\(r.stderr)")
        #expect(!r.stderr.contains("could not load"), "\(r.stderr)")
    }

    /// Running the random ViT-B/32 to its end takes minutes in a debug build: the decision is what is tested, so
    /// the run is stopped once it has said it falls back (or has ended).
    @Test func demoFallsBackWhenTheHubCannotBeReached() throws {
        let hub = try HubImitation()
        let endpoint = hub.endpoint
        hub.stop()
        let dir = try HubTestDirectory()
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary.path), "no clipcl binary at \(Self.binary.path)")
        let p = Process()
        p.executableURL = Self.binary
        p.arguments = ["demo", "--out", dir.url.appendingPathComponent("out").path]
        p.environment = ProcessInfo.processInfo.environment.merging(
            ["HF_ENDPOINT": endpoint.absoluteString, "HF_HUB_CACHE": dir.url.appendingPathComponent("hub").path, "HF_HUB_OFFLINE": ""]) { $1 }
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        var text = ""
        while !text.contains("falling back to random:ViT-B-32") {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        // SIGKILL: a child of the test runner may inherit a blocked SIGTERM.
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        #expect(text.contains("warning: could not load openai/clip-vit-base-patch32: cannot reach \(endpoint.absoluteString)"), "\(text)")
        #expect(text.contains("warning: falling back to random:ViT-B-32"), "\(text)")
    }
}
