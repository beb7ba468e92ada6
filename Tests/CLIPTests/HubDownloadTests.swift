import Foundation
import Testing
@testable import CLIP

// MARK: - SHA-256

@Suite struct SHA256Tests {
    @Test func fipsVectors() {
        #expect(SHA256.hex(of: Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(of: Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(of: Data(repeating: UInt8(ascii: "a"), count: 1_000_000))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func emptyInput() {
        #expect(SHA256.hex(of: Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var h = SHA256()
        h.update(UnsafeRawBufferPointer(start: nil, count: 0))
        #expect(SHA256.hexString(h.finalize()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func chunkBoundariesDoNotMatter() throws {
        var rng = HubTestRNG(seed: 7)
        let data = Data((0..<10_000).map { _ in UInt8.random(in: 0...255, using: &rng) })
        let expected = SHA256.hex(of: data)
        for split in [1, 3, 55, 56, 63, 64, 65, 127, 128, 1000, 4096, 9999] {
            var h = SHA256()
            var offset = 0
            while offset < data.count {
                let end = min(data.count, offset + split)
                data[offset..<end].withUnsafeBytes { h.update($0) }
                offset = end
            }
            #expect(SHA256.hexString(h.finalize()) == expected, "split \(split)")
        }
        // Irregular splits, and the streaming file hash with small and default chunk sizes.
        var h = SHA256()
        var offset = 0
        for size in [0, 1, 62, 2, 64, 500, 7, 129] + Array(repeating: 1000, count: 10) where offset < data.count {
            let end = min(data.count, offset + size)
            data[offset..<end].withUnsafeBytes { h.update($0) }
            offset = end
        }
        data[offset...].withUnsafeBytes { h.update($0) }
        #expect(h.hexDigest == expected)
        #expect(SHA256.hexString(h.finalize()) == expected)

        let dir = try HubTestDirectory()
        let file = dir.url.appendingPathComponent("blob.bin")
        try data.write(to: file)
        #expect(try SHA256.hex(ofFile: file) == expected)
        #expect(try SHA256.hex(ofFile: file, chunkSize: 1000) == expected)
        #expect(try SHA256.hex(ofFile: file, chunkSize: 333) == expected)
    }
}

// MARK: - Hub protocol and the Hugging Face cache

@Suite struct HubDownloadTests {
    static let repo = "openai/clip-test"

    func client(_ hub: HubImitation?, cache: URL, offline: Bool = false, environment: [String: String] = [:],
                attempts: Int = 3, progress: (@Sendable (String, Int64, Int64?) -> Void)? = nil) -> HubClient {
        var c = HubClient(endpoint: hub?.endpoint ?? URL(string: "http://127.0.0.1:9")!, cacheDirectory: cache, offline: offline,
                          environment: environment, progress: progress)
        c.timeout = 10
        c.maxAttempts = attempts
        c.retryDelay = 0.01
        return c
    }

    func blobPath(_ cache: URL, _ sha: String) -> String { cache.path + "/models--openai--clip-test/blobs/" + sha }

    @Test func downloadsIntoTheHuggingFaceCacheLayout() throws {
        let hub = try HubImitation()
        defer { hub.stop() }
        let dir = try HubTestDirectory()
        let weights = hubRandomData(300_000, seed: 1)
        let config = Data(#"{"projection_dim": 512}"#.utf8)
        let commit = hub.publish(Self.repo, files: ["model.safetensors": weights, "config.json": config, "sub/dir/x.json": config],
                                 lfs: ["model.safetensors"])
        let events = HubProgressEvents()
        let repo = try client(hub, cache: dir.url) { name, done, total in events.add(name, done, total) }.repository(Self.repo)

        let url = try repo.file("model.safetensors")
        let sha = SHA256.hex(of: weights)
        let snapshot = dir.url.path + "/models--openai--clip-test/snapshots/\(commit)"
        #expect(url.path == snapshot + "/model.safetensors")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: url.path) == "../../blobs/" + sha)
        #expect(try Data(contentsOf: url) == weights)
        #expect(HubClient.recordedSHA256(of: url) == sha)
        #expect(repo.commit == commit && repo.snapshotDirectory?.path == snapshot)
        #expect(try String(contentsOfFile: dir.url.path + "/models--openai--clip-test/refs/main", encoding: .utf8) == commit)
        #expect(!FileManager.default.fileExists(atPath: blobPath(dir.url, sha) + ".incomplete"))
        #expect(FileManager.default.fileExists(atPath: dir.url.path + "/.locks/models--openai--clip-test/\(sha).lock"))
        // HEAD is not followed to the CDN; the GET is, and the CDN is another origin.
        #expect(hub.requests.map(\.description) == [
            "hub HEAD /openai/clip-test/resolve/main/model.safetensors",
            "hub GET /openai/clip-test/resolve/\(commit)/model.safetensors",
            "cdn GET /blobs/\(sha)",
        ])
        #expect(events.last?.0 == "model.safetensors" && events.last?.1 == 300_000 && events.last?.2 == 300_000)

        // A small file: the relative 307 to /api/resolve-cache is followed; its blob is named by the git ETag.
        hub.resetLog()
        let configURL = try repo.file("config.json")
        #expect(try Data(contentsOf: configURL) == config)
        #expect(HubClient.recordedSHA256(of: configURL) == nil)
        #expect(hub.requests.map { "\($0.host) \($0.request.method)" } == ["hub HEAD", "hub HEAD", "hub GET", "hub GET"])
        #expect(hub.requests[1].request.path.hasPrefix("/api/resolve-cache/models/openai/clip-test/\(commit)/config.json"))
        // Nested paths link one level further up.
        let nested = try repo.file("sub/dir/x.json")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: nested.path).hasPrefix("../../../../blobs/"))
    }

    @Test func tokenGoesToTheHubOnlyNeverToTheCDN() throws {
        let hub = try HubImitation()
        defer { hub.stop() }
        let dir = try HubTestDirectory()
        hub.publish(Self.repo, files: ["model.safetensors": hubRandomData(5_000, seed: 6)], lfs: ["model.safetensors"])
        hub.gate(Self.repo, token: "hf_secret")
        let error = #expect(throws: HubError.self) { try client(hub, cache: dir.url).repository(Self.repo).file("model.safetensors") }
        let message = error.map { "\($0)" } ?? ""
        #expect(message.hasPrefix("hub repo 'openai/clip-test' is gated (Access to model openai/clip-test is restricted."), "\(message)")
        #expect(message.contains("set HF_TOKEN") && !message.contains("\n"), "\(message)")

        _ = try client(hub, cache: dir.url, environment: ["HF_TOKEN": "hf_secret"]).repository(Self.repo).file("model.safetensors")
        let sent = hub.requests.filter { $0.request.headers["authorization"] == "Bearer hf_secret" }.map(\.host)
        #expect(Set(sent) == ["hub"] && hub.requests.contains { $0.host == "cdn" })
    }

    @Test func tokenFileOfHFHomeIsUsed() throws {
        let home = try HubTestDirectory()
        try Data("hf_from_file\n".utf8).write(to: home.url.appendingPathComponent("token"))
        #expect(HubClient.resolveToken(environment: ["HF_HOME": home.url.path]) == "hf_from_file")
        #expect(HubClient.resolveToken(environment: ["HF_HOME": home.url.path, "HF_TOKEN": "hf_env"]) == "hf_env")
        let other = home.url.appendingPathComponent("elsewhere")
        try Data("  hf_path  ".utf8).write(to: other)
        #expect(HubClient.resolveToken(environment: ["HF_HOME": home.url.path, "HF_TOKEN_PATH": other.path]) == "hf_path")
        #expect(HubClient.resolveToken(environment: ["HOME": home.url.path]) == nil)
    }

    @Test func errorsSayWhatIsMissing() throws {
        let hub = try HubImitation()
        defer { hub.stop() }
        let dir = try HubTestDirectory()
        let commit = hub.publish(Self.repo, files: ["config.json": Data("{}".utf8)])
        let c = client(hub, cache: dir.url)

        let misspelled = #expect(throws: HubError.self) { try c.repository("openai/clip-tset").file("config.json") }
        #expect(misspelled == .repoNotFound(repo: "openai/clip-tset", endpoint: hub.endpoint.absoluteString, tokenSent: false))
        #expect("\(misspelled!)" == "hub repo 'openai/clip-tset' not found at \(hub.endpoint.absoluteString): check the spelling; a private repo needs HF_TOKEN")

        let revision = #expect(throws: HubError.self) { try c.repository(Self.repo, revision: "v9").file("config.json") }
        #expect(revision == .revisionNotFound(repo: Self.repo, revision: "v9"))

        // A missing file is "absent" (callers try the next name) and is remembered under .no_exist.
        let repo = try c.repository(Self.repo)
        #expect(try repo.fileIfPresent("model.safetensors") == nil)
        #expect(FileManager.default.fileExists(atPath: dir.url.path + "/models--openai--clip-test/.no_exist/\(commit)/model.safetensors"))
        #expect(throws: HubError.entryNotFound(repo: Self.repo, path: "model.safetensors", revision: "main")) {
            try repo.file("model.safetensors")
        }
        // Known missing, also offline: no request.
        _ = try repo.file("config.json")
        hub.resetLog()
        #expect(try client(hub, cache: dir.url, offline: true).repository(Self.repo).fileIfPresent("model.safetensors") == nil)
        #expect(try c.repository(Self.repo).fileIfPresent("model.safetensors") == nil)
        #expect(hub.requests.isEmpty, "\(hub.requests)")
    }

    @Test func interruptedDownloadResumesWithRange() throws {
        let hub = try HubImitation()
        defer { hub.stop() }
        let dir = try HubTestDirectory()
        let weights = hubRandomData(200_000, seed: 2)
        hub.publish(Self.repo, files: ["model.safetensors": weights], lfs: ["model.safetensors"])
        hub.inject([.cutAfter(50_000)], path: "model.safetensors")
        let sha = SHA256.hex(of: weights)

        let first = #expect(throws: HubError.self) { try client(hub, cache: dir.url, attempts: 1).repository(Self.repo).file("model.safetensors") }
        let message = first.map { "\($0)" } ?? ""
        #expect(message.hasPrefix("download of \(hub.endpoint.absoluteString)/openai/clip-test/resolve/") && message.contains("run the command again"),
                "\(message)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: blobPath(dir.url, sha) + ".incomplete")) == weights.prefix(50_000))

        let url = try client(hub, cache: dir.url).repository(Self.repo).file("model.safetensors")
        #expect(try Data(contentsOf: url) == weights)
        let ranges = hub.requests.filter { $0.host == "cdn" }.map { $0.request.headers["range"] }
        #expect(ranges == [nil, "bytes=50000-"])
    }

    @Test func transientFailuresAreRetriedAndResumedWithinOneCall() throws {
        let hub = try HubImitation()
        defer { hub.stop() }
        let dir = try HubTestDirectory()
        let weights = hubRandomData(120_000, seed: 3)
        hub.publish(Self.repo, files: ["open_clip_model.safetensors": weights], lfs: ["open_clip_model.safetensors"])
        hub.inject([.status(503, retryAfter: nil), .cutAfter(70_000), .status(429, retryAfter: "0"), .status(502, retryAfter: nil)],
                   path: "open_clip_model.safetensors")
        let url = try client(hub, cache: dir.url, attempts: 5).repository(Self.repo).file("open_clip_model.safetensors")
        #expect(try Data(contentsOf: url) == weights)
        let ranges = hub.requests.filter { $0.host == "cdn" }.map { $0.request.headers["range"] ?? "-" }
        #expect(ranges == ["-", "-", "bytes=70000-", "bytes=70000-", "bytes=70000-"])

        // Out of attempts: the last status is reported.
        hub.publish("openai/other", files: ["w.bin": hubRandomData(1_000, seed: 33)], lfs: ["w.bin"])
        hub.inject(Array(repeating: .status(500, retryAfter: nil), count: 3), path: "w.bin")
        let error = #expect(throws: HubError.self) { try client(hub, cache: dir.url, attempts: 3).repository("openai/other").file("w.bin") }
        guard case let .httpStatus(_, _, _, status, _)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(status == 500)
    }

    @Test func corruptedContentIsRejected() throws {
        let hub = try HubImitation()
        defer { hub.stop() }
        let dir = try HubTestDirectory()
        let weights = hubRandomData(100_000, seed: 4)
        hub.publish(Self.repo, files: ["model.safetensors": weights], lfs: ["model.safetensors"])
        hub.inject([.corrupt], path: "model.safetensors")
        let repo = try client(hub, cache: dir.url).repository(Self.repo)
        let error = #expect(throws: HubError.self) { try repo.file("model.safetensors") }
        guard case let .checksumMismatch(name, path, expected, actual)? = error else {
            Issue.record("expected checksumMismatch, got \(String(describing: error))")
            return
        }
        let sha = SHA256.hex(of: weights)
        #expect(name == Self.repo && path == "model.safetensors" && expected == sha && actual != expected)
        for p in [blobPath(dir.url, sha), blobPath(dir.url, sha) + ".incomplete", repo.snapshotDirectory!.path + "/model.safetensors"] {
            #expect(!FileManager.default.fileExists(atPath: p), "\(p)")
        }
        #expect(try Data(contentsOf: try repo.file("model.safetensors")) == weights)   // the next try succeeds
    }

    @Test func cacheHitMakesNoRequestsAlsoOffline() throws {
        let hub = try HubImitation()
        defer { hub.stop() }
        let dir = try HubTestDirectory()
        let weights = hubRandomData(10_000, seed: 5)
        let commit = hub.publish(Self.repo, files: ["model.safetensors": weights], lfs: ["model.safetensors"])
        let first = try client(hub, cache: dir.url).repository(Self.repo).file("model.safetensors")
        hub.resetLog()

        #expect(try client(hub, cache: dir.url).repository(Self.repo).file("model.safetensors") == first)
        #expect(try client(hub, cache: dir.url, offline: true).repository(Self.repo).file("model.safetensors") == first)
        let viaEnvironment = client(hub, cache: dir.url, environment: ["HF_HUB_OFFLINE": "1"])
        #expect(viaEnvironment.offline)
        #expect(try viaEnvironment.repository(Self.repo).fileIfPresent("tokenizer.json") == nil)
        #expect(try viaEnvironment.repository(Self.repo, revision: commit).file("model.safetensors") == first)
        #expect(client(hub, cache: dir.url, environment: ["TRANSFORMERS_OFFLINE": "1"]).offline)
        #expect(hub.requests.isEmpty, "\(hub.requests)")
    }

    @Test func offlineWithoutCacheNamesTheCachePath() throws {
        let dir = try HubTestDirectory()
        let repo = try client(nil, cache: dir.url, offline: true).repository("openai/clip-vit-base-patch16")
        let error = #expect(throws: HubError.self) { try repo.fileIfPresent("config.json") }
        let message = error.map { "\($0)" } ?? ""
        #expect(message == "hub repo 'openai/clip-vit-base-patch16' is not in the cache for offline use: 'config.json' not found at "
                + dir.url.path + "/models--openai--clip-vit-base-patch16/refs/main (run once without --offline/HF_HUB_OFFLINE to download it)")
    }

    /// Files of one repository object come from one commit, even when the branch moves meanwhile.
    @Test func revisionsArePinnedToOneCommit() throws {
        let hub = try HubImitation()
        defer { hub.stop() }
        let dir = try HubTestDirectory()
        let old = hub.publish(Self.repo, files: ["a.json": Data("old a".utf8), "b.json": Data("old b".utf8)])
        let repo = try client(hub, cache: dir.url).repository(Self.repo)
        #expect(try Data(contentsOf: try repo.file("a.json")) == Data("old a".utf8))
        let new = hub.publish(Self.repo, files: ["a.json": Data("new a".utf8), "b.json": Data("new b".utf8)])
        #expect(try Data(contentsOf: try repo.file("b.json")) == Data("old b".utf8))
        #expect(repo.commit == old && old != new)
        // A pull-request ref is stored as refs/refs/pr/1; a commit hash needs no ref.
        let pr = hub.publish(Self.repo, revision: "refs/pr/1", files: ["model.safetensors": Data("pr".utf8)])
        let prRepo = try client(hub, cache: dir.url).repository(Self.repo, revision: "refs/pr/1")
        _ = try prRepo.file("model.safetensors")
        #expect(hub.requests.last { $0.host == "hub" && $0.request.method == "HEAD" && $0.request.target.contains("%2F") } != nil)
        #expect(try String(contentsOfFile: dir.url.path + "/models--openai--clip-test/refs/refs/pr/1", encoding: .utf8) == pr)
        #expect(try client(hub, cache: dir.url).repository(Self.repo, revision: new).file("a.json").path.contains("/snapshots/\(new)/"))
    }

    @Test func renamedRepoIsFollowedByItsRelativeRedirect() throws {
        let hub = try HubImitation()
        defer { hub.stop() }
        let dir = try HubTestDirectory()
        hub.publish("laion/new-name", files: ["config.json": Data("{}".utf8)])
        hub.rename("laion/old-name", to: "laion/new-name")
        let url = try client(hub, cache: dir.url).repository("laion/old-name").file("config.json")
        #expect(try Data(contentsOf: url) == Data("{}".utf8))
        #expect(url.path.hasPrefix(dir.url.path + "/models--laion--old-name/snapshots/"))
    }

    @Test func unreachableHubIsToldApartFromOtherFailures() throws {
        let hub = try HubImitation()
        let endpoint = hub.endpoint
        hub.stop()   // nothing listens on this port any more
        let dir = try HubTestDirectory()
        let c = HubClient(endpoint: endpoint, cacheDirectory: dir.url, offline: false, environment: [:], progress: nil)
        let error = #expect(throws: HubError.self) { try c.repository(Self.repo).file("config.json") }
        guard case .unreachable? = error else { Issue.record("expected .unreachable, got \(String(describing: error))"); return }
        let message = error.map { "\($0)" } ?? ""
        #expect(message.hasPrefix("cannot reach \(endpoint.absoluteString)/openai/clip-test/resolve/main/config.json: connection refused"),
                "\(message)")
        #expect(message.contains("--offline") && !message.contains("\n"), "\(message)")
    }

    @Test func concurrentDownloadsOfOneFileDownloadOnce() throws {
        let hub = try HubImitation()
        defer { hub.stop() }
        let dir = try HubTestDirectory()
        let weights = hubRandomData(400_000, seed: 8)
        hub.publish(Self.repo, files: ["model.safetensors": weights], lfs: ["model.safetensors"])
        let c = client(hub, cache: dir.url)
        let results = HubResults()
        let group = DispatchGroup()
        for _ in 0..<2 {
            group.enter()
            Thread {
                do throws(HubError) { results.add(.success(try c.repository(Self.repo).file("model.safetensors"))) } catch {
                    results.add(.failure(error))
                }
                group.leave()
            }.start()
        }
        group.wait()
        let urls = try results.all.map { try $0.get() }
        #expect(urls.count == 2 && urls[0] == urls[1])
        #expect(try Data(contentsOf: urls[0]) == weights)
        #expect(hub.requests.filter { $0.host == "cdn" }.count == 1)
    }

    @Test func environment() throws {
        #expect(HubClient.resolveEndpoint(environment: [:]).absoluteString == "https://huggingface.co")
        #expect(HubClient.resolveEndpoint(environment: ["HF_ENDPOINT": ""]).absoluteString == "https://huggingface.co")
        #expect(HubClient.resolveEndpoint(environment: ["HF_ENDPOINT": "https://hf-mirror.com/"]).absoluteString == "https://hf-mirror.com")
        #expect(HubClient.resolveCacheDirectory(environment: ["HOME": "/home/u"]).path == "/home/u/.cache/huggingface/hub")
        #expect(HubClient.resolveCacheDirectory(environment: ["HOME": "/home/u", "XDG_CACHE_HOME": "/x"]).path == "/x/huggingface/hub")
        #expect(HubClient.resolveCacheDirectory(environment: ["HF_HOME": "/h", "XDG_CACHE_HOME": "/x"]).path == "/h/hub")
        #expect(HubClient.resolveCacheDirectory(environment: ["HF_HOME": "/h", "HUGGINGFACE_HUB_CACHE": "/old"]).path == "/old")
        #expect(HubClient.resolveCacheDirectory(environment: ["HF_HUB_CACHE": "/c", "HUGGINGFACE_HUB_CACHE": "/old"]).path == "/c")
        #expect(HubClient.resolveOffline(environment: ["HF_HUB_OFFLINE": "1"]))
        #expect(!HubClient.resolveOffline(environment: ["HF_HUB_OFFLINE": "0"]))

        let hub = try HubImitation()
        defer { hub.stop() }
        let dir = try HubTestDirectory()
        hub.publish(Self.repo, files: ["config.json": Data("{}".utf8)])
        let c = HubClient(endpoint: nil, cacheDirectory: nil, offline: false,
                          environment: ["HF_ENDPOINT": hub.endpoint.absoluteString + "/", "HF_HUB_CACHE": dir.url.path], progress: nil)
        #expect(c.endpoint == hub.endpoint)
        #expect(try c.repository(Self.repo).file("config.json").path.hasPrefix(dir.url.path + "/models--openai--clip-test/snapshots/"))
    }

    @Test func modelIDsAndRepoIDs() throws {
        for id in ["openai/clip-vit-base-patch16", "laion/CLIP-ViT-B-32-laion2B-s34B-b79K", "timm/vit_base_patch16_clip_224.openai"] {
            #expect(HubClient.isRepoID(id), "\(id)")
        }
        for id in ["../x", "a/b/c", "/abs/path", "name", "", "a/", "/b", "a/..", "a/b c", "./x", "org/na--me", "org/-x",
                   "org/x.", "a\\b/c"] {
            #expect(!HubClient.isRepoID(id), "\(id)")
        }
        #expect(HubClient.parseModelID("hf-hub:timm/vit_base_patch16_clip_224.openai")! == ("timm/vit_base_patch16_clip_224.openai", nil))
        #expect(HubClient.parseModelID("openai/clip-vit-base-patch32@refs/pr/66")! == ("openai/clip-vit-base-patch32", "refs/pr/66"))
        #expect(HubClient.parseModelID("hf-hub:a/b@v1.0")! == ("a/b", "v1.0"))
        #expect(HubClient.parseModelID("a/b@../x") == nil && HubClient.parseModelID("a/b@") == nil && HubClient.parseModelID("a") == nil)
        let c = HubClient(endpoint: nil, cacheDirectory: URL(fileURLWithPath: "/c"), offline: true, environment: [:], progress: nil)
        #expect(throws: HubError.invalidRepoID("../x")) { try c.repository("../x") }
        #expect(throws: HubError.invalidPath(repo: "a/b", path: "../../etc/passwd")) { try c.repository("a/b").file("../../etc/passwd") }
        #expect(throws: HubError.invalidPath(repo: "a/b", path: "../main")) { try c.repository("a/b", revision: "../main") }
    }
}

// MARK: - Helpers

/// A fresh directory under the system temporary directory, removed when the value is released.
final class HubTestDirectory {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("clipcl-hub-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

private final class HubProgressEvents: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [(String, Int64, Int64?)] = []
    func add(_ name: String, _ done: Int64, _ total: Int64?) { lock.withLock { items.append((name, done, total)) } }
    var last: (String, Int64, Int64?)? { lock.withLock { items.last } }
}

private final class HubResults: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Result<URL, HubError>] = []
    func add(_ r: Result<URL, HubError>) { lock.withLock { items.append(r) } }
    var all: [Result<URL, HubError>] { lock.withLock { items } }
}

private struct HubTestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func hubRandomData(_ count: Int, seed: UInt64) -> Data {
    var rng = HubTestRNG(seed: seed)
    var data = Data(count: count)
    data.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
        for i in 0..<count { raw[i] = UInt8(truncatingIfNeeded: rng.next()) }
    }
    return data
}
