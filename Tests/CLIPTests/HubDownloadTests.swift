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

// MARK: - Hub downloads

@Suite struct HubDownloadTests {
    static let repo = "openai/clip-test"

    func client(_ server: LoopbackHTTPServer?, cache: URL, offline: Bool = false, environment: [String: String] = [:],
                attempts: Int = 3, progress: (@Sendable (String, Int64, Int64?) -> Void)? = nil) -> HubClient {
        var c = HubClient(endpoint: server?.baseURL, cacheDirectory: cache, offline: offline, revision: "main",
                          environment: environment, progress: progress)
        c.timeout = 10
        c.maxAttempts = attempts
        return c
    }

    func blobGETs(_ server: LoopbackHTTPServer) -> [LoopbackHTTPServer.Request] {
        server.requests.filter { $0.method == "GET" && $0.path.hasPrefix("/blobs/") }
    }

    @Test func downloadFollowsRedirectAndRecordsSHA256() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let dir = try HubTestDirectory()
        let weights = hubRandomData(300_000, seed: 1)
        let config = Data(#"{"projection_dim": 512}"#.utf8)
        server.addFile(repo: Self.repo, path: "model.safetensors", data: weights, lfs: true, redirect: true)
        server.addFile(repo: Self.repo, path: "config.json", data: config)
        let events = HubProgressEvents()
        let hub = client(server, cache: dir.url) { name, done, total in events.add(name, done, total) }

        let url = try hub.file(repo: Self.repo, path: "model.safetensors")
        #expect(url.path == dir.url.path + "/models/openai--clip-test/main/model.safetensors")
        #expect(try Data(contentsOf: url) == weights)
        #expect(HubClient.recordedSHA256(of: url) == SHA256.hex(of: weights))
        #expect(!FileManager.default.fileExists(atPath: url.path + ".incomplete"))
        let log = server.requests
        #expect(log.map { "\($0.method) \($0.path)" } == [
            "HEAD /openai/clip-test/resolve/main/model.safetensors",   // not followed to /blobs/
            "GET /openai/clip-test/resolve/main/model.safetensors",
            "GET /blobs/\(SHA256.hex(of: weights))",
        ])
        #expect(log.allSatisfy { $0.headers["range"] == nil && $0.headers["authorization"] == nil })
        #expect(events.last?.0 == "model.safetensors" && events.last?.1 == 300_000 && events.last?.2 == 300_000)

        // A non-LFS file: its ETag is no sha256, the recorded hash is the computed one.
        let configURL = try hub.file(repo: Self.repo, path: "config.json")
        #expect(try Data(contentsOf: configURL) == config)
        #expect(HubClient.recordedSHA256(of: configURL) == SHA256.hex(of: config))
    }

    @Test func interruptedDownloadResumesWithRange() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let dir = try HubTestDirectory()
        let weights = hubRandomData(200_000, seed: 2)
        server.addFile(repo: Self.repo, path: "model.safetensors", data: weights, lfs: true, redirect: true, cutAfter: 50_000)
        let hub = client(server, cache: dir.url, attempts: 1)

        let first = #expect(throws: HubError.self) { try hub.file(repo: Self.repo, path: "model.safetensors") }
        let message = first.map { "\($0)" } ?? ""
        #expect(message.contains("/openai/clip-test/resolve/main/model.safetensors"), "\(message)")
        #expect(message.contains("--offline"))
        let final = try hub.cachedFileURL(repo: Self.repo, path: "model.safetensors")
        #expect(!FileManager.default.fileExists(atPath: final.path))
        #expect(try Data(contentsOf: URL(fileURLWithPath: final.path + ".incomplete")) == weights.prefix(50_000))

        let url = try hub.file(repo: Self.repo, path: "model.safetensors")
        #expect(try Data(contentsOf: url) == weights)
        #expect(HubClient.recordedSHA256(of: url) == SHA256.hex(of: weights))
        let gets = blobGETs(server)
        #expect(gets.count == 2)
        #expect(gets.last?.headers["range"] == "bytes=50000-")   // kept across the redirect
        let resolveGETs = server.requests.filter { $0.method == "GET" && $0.path.contains("/resolve/") }
        #expect(resolveGETs.last?.headers["range"] == "bytes=50000-")
    }

    @Test func droppedConnectionIsResumedWithinOneCall() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let dir = try HubTestDirectory()
        let weights = hubRandomData(120_000, seed: 3)
        server.addFile(repo: Self.repo, path: "open_clip_model.safetensors", data: weights, lfs: true, cutAfter: 70_000)
        let url = try client(server, cache: dir.url).file(repo: Self.repo, path: "open_clip_model.safetensors")
        #expect(try Data(contentsOf: url) == weights)
        let gets = server.requests.filter { $0.method == "GET" }
        #expect(gets.map { $0.headers["range"] } == [nil, "bytes=70000-"])
    }

    @Test func serverIgnoringRangeRestartsFromZero() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let dir = try HubTestDirectory()
        let weights = hubRandomData(60_000, seed: 9)
        server.addFile(repo: Self.repo, path: "model.safetensors", data: weights, lfs: true, redirect: true, ignoreRange: true)
        let hub = client(server, cache: dir.url)
        let final = try hub.cachedFileURL(repo: Self.repo, path: "model.safetensors")
        try FileManager.default.createDirectory(at: final.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(repeating: 0xEE, count: 1_000).write(to: URL(fileURLWithPath: final.path + ".incomplete"))

        let url = try hub.file(repo: Self.repo, path: "model.safetensors")
        #expect(try Data(contentsOf: url) == weights)
        #expect(blobGETs(server).map { $0.headers["range"] } == ["bytes=1000-"])
    }

    @Test func corruptedContentIsRejected() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let dir = try HubTestDirectory()
        let weights = hubRandomData(100_000, seed: 4)
        server.addFile(repo: Self.repo, path: "model.safetensors", data: weights, lfs: true, redirect: true, corrupt: true)
        let hub = client(server, cache: dir.url)
        let error = #expect(throws: HubError.self) { try hub.file(repo: Self.repo, path: "model.safetensors") }
        guard case let .checksumMismatch(repo, path, expected, actual)? = error else {
            Issue.record("expected checksumMismatch, got \(String(describing: error))")
            return
        }
        #expect(repo == Self.repo && path == "model.safetensors")
        #expect(expected == SHA256.hex(of: weights) && actual != expected)
        let final = try hub.cachedFileURL(repo: Self.repo, path: "model.safetensors")
        for suffix in ["", ".incomplete", ".sha256"] {
            #expect(!FileManager.default.fileExists(atPath: final.path + suffix), "\(suffix)")
        }
    }

    @Test func cacheHitMakesNoRequestsAlsoOffline() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let dir = try HubTestDirectory()
        let weights = hubRandomData(10_000, seed: 5)
        server.addFile(repo: Self.repo, path: "model.safetensors", data: weights, lfs: true, redirect: true)
        let first = try client(server, cache: dir.url).file(repo: Self.repo, path: "model.safetensors")
        #expect(!server.requests.isEmpty)
        server.resetLog()

        #expect(try client(server, cache: dir.url).file(repo: Self.repo, path: "model.safetensors") == first)
        #expect(try client(server, cache: dir.url, offline: true).file(repo: Self.repo, path: "model.safetensors") == first)
        let viaEnvironment = client(server, cache: dir.url, environment: ["HF_HUB_OFFLINE": "1"])
        #expect(viaEnvironment.offline)
        #expect(try viaEnvironment.snapshot(repo: Self.repo, required: ["model.safetensors"], optional: ["tokenizer.json"])
            == first.deletingLastPathComponent())
        #expect(server.requests.isEmpty, "\(server.requests)")
    }

    @Test func offlineWithoutCacheNamesTheCachePath() throws {
        let dir = try HubTestDirectory()
        let hub = client(nil, cache: dir.url, offline: true)
        let error = #expect(throws: HubError.self) { try hub.file(repo: "openai/clip-vit-base-patch16", path: "config.json") }
        let message = error.map { "\($0)" } ?? ""
        #expect(message.contains("'openai/clip-vit-base-patch16' is unknown while offline and not in the cache"), "\(message)")
        #expect(message.contains(dir.url.path + "/models/openai--clip-vit-base-patch16/main/config.json"), "\(message)")
        #expect(!message.contains("\n"))
    }

    @Test func missingFileIsNotFoundAndSnapshotSkipsOptional() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let dir = try HubTestDirectory()
        server.addFile(repo: Self.repo, path: "config.json", data: Data("{}".utf8))
        server.addFile(repo: Self.repo, path: "model.safetensors.index.json", data: Data("{}".utf8))
        let hub = client(server, cache: dir.url)
        #expect(throws: HubError.notFound(repo: Self.repo, path: "model.safetensors")) {
            try hub.file(repo: Self.repo, path: "model.safetensors")
        }
        let folder = try hub.snapshot(repo: Self.repo, required: ["config.json"],
                                      optional: ["model.safetensors", "model.safetensors.index.json"])
        #expect(folder == (try hub.repoDirectory(repo: Self.repo)))
        let fm = FileManager.default
        #expect(fm.fileExists(atPath: folder.appendingPathComponent("config.json").path))
        #expect(fm.fileExists(atPath: folder.appendingPathComponent("model.safetensors.index.json").path))
        #expect(!fm.fileExists(atPath: folder.appendingPathComponent("model.safetensors").path))
        #expect(throws: HubError.notFound(repo: Self.repo, path: "x.json")) {
            try hub.snapshot(repo: Self.repo, required: ["x.json"], optional: [])
        }
    }

    @Test func endpointFromEnvironment() throws {
        #expect(HubClient.resolveEndpoint(environment: [:]).absoluteString == "https://huggingface.co")
        #expect(HubClient.resolveEndpoint(environment: ["HF_ENDPOINT": ""]).absoluteString == "https://huggingface.co")
        #expect(HubClient.resolveEndpoint(environment: ["HF_ENDPOINT": "https://hf-mirror.com/"]).absoluteString
            == "https://hf-mirror.com")
        #expect(HubClient.resolveCacheDirectory(environment: ["CLIPCL_CACHE": "/tmp/c"]).path == "/tmp/c")
        #expect(HubClient.resolveCacheDirectory(environment: ["HOME": "/home/u"]).path == "/home/u/.cache/clipcl")
        #expect(HubClient.resolveOffline(environment: ["HF_HUB_OFFLINE": "1"]))
        #expect(!HubClient.resolveOffline(environment: ["HF_HUB_OFFLINE": "0"]))

        // The endpoint, cache and token all come from the environment when not given.
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let dir = try HubTestDirectory()
        server.addFile(repo: Self.repo, path: "config.json", data: Data("{}".utf8))
        let hub = HubClient(endpoint: nil, cacheDirectory: nil, offline: false, revision: "main",
                            environment: ["HF_ENDPOINT": server.baseURL.absoluteString + "/",
                                          "CLIPCL_CACHE": dir.url.path], progress: nil)
        #expect(hub.endpoint == server.baseURL)
        let url = try hub.file(repo: Self.repo, path: "config.json")
        #expect(url.path.hasPrefix(dir.url.path + "/models/"))
        #expect(server.requests.count == 2)
    }

    @Test func gatedRepoNeedsToken() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let dir = try HubTestDirectory()
        let weights = hubRandomData(5_000, seed: 6)
        server.addFile(repo: Self.repo, path: "model.safetensors", data: weights, lfs: true, redirect: true)
        server.requireToken("hf_secret")
        let error = #expect(throws: HubError.self) {
            try client(server, cache: dir.url).file(repo: Self.repo, path: "model.safetensors")
        }
        let message = error.map { "\($0)" } ?? ""
        #expect(message.contains("gated") && message.contains("HF_TOKEN") && message.contains(Self.repo), "\(message)")

        let url = try client(server, cache: dir.url, environment: ["HF_TOKEN": "hf_secret"])
            .file(repo: Self.repo, path: "model.safetensors")
        #expect(try Data(contentsOf: url) == weights)
        #expect(server.requests.last?.path.hasPrefix("/blobs/") == true)
    }

    @Test func networkFailureNamesURL() throws {
        let server = try LoopbackHTTPServer()
        let endpoint = server.baseURL
        server.stop()   // nothing listens on this port any more
        let dir = try HubTestDirectory()
        let hub = HubClient(endpoint: endpoint, cacheDirectory: dir.url, offline: false, revision: "main",
                            environment: [:], progress: nil)
        let error = #expect(throws: HubError.self) { try hub.file(repo: Self.repo, path: "config.json") }
        let message = error.map { "\($0)" } ?? ""
        #expect(message.hasPrefix("cannot download \(endpoint.absoluteString)/openai/clip-test/resolve/main/config.json: "),
                "\(message)")
        #expect(message.contains("--offline") && !message.contains("\n"), "\(message)")
    }

    @Test func concurrentDownloadsOfOneFileDownloadOnce() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let dir = try HubTestDirectory()
        let weights = hubRandomData(400_000, seed: 8)
        server.addFile(repo: Self.repo, path: "model.safetensors", data: weights, lfs: true, redirect: true)
        let hub = client(server, cache: dir.url)
        let results = HubResults()
        let group = DispatchGroup()
        for _ in 0..<2 {
            group.enter()
            Thread {
                do throws(HubError) { results.add(.success(try hub.file(repo: Self.repo, path: "model.safetensors"))) } catch {
                    results.add(.failure(error))
                }
                group.leave()
            }.start()
        }
        group.wait()
        let urls = try results.all.map { try $0.get() }
        #expect(urls.count == 2 && urls[0] == urls[1])
        #expect(try Data(contentsOf: urls[0]) == weights)
        #expect(blobGETs(server).count == 1)
    }

    @Test func repoIDs() {
        for id in ["openai/clip-vit-base-patch16", "laion/CLIP-ViT-B-32-laion2B-s34B-b79K", "timm/vit_base_patch16_clip_224.openai"] {
            #expect(HubClient.isRepoID(id), "\(id)")
        }
        for id in ["../x", "a/b/c", "/abs/path", "name", "", "a/", "/b", "a/..", "a/b c", "./x", "org/na--me", "org/-x",
                   "org/x.", "a\\b/c"] {
            #expect(!HubClient.isRepoID(id), "\(id)")
        }
        let hub = HubClient(endpoint: nil, cacheDirectory: URL(fileURLWithPath: "/c"), offline: true, revision: "main",
                            environment: [:], progress: nil)
        #expect(throws: HubError.invalidRepoID("../x")) { try hub.file(repo: "../x", path: "config.json") }
        #expect(throws: HubError.invalidPath(repo: "a/b", path: "../../etc/passwd")) {
            try hub.file(repo: "a/b", path: "../../etc/passwd")
        }
    }
}

// MARK: - Helpers

/// A fresh directory under the system temporary directory, removed when the value is released.
private final class HubTestDirectory {
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

private func hubRandomData(_ count: Int, seed: UInt64) -> Data {
    var rng = HubTestRNG(seed: seed)
    var data = Data(count: count)
    data.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
        for i in 0..<count { raw[i] = UInt8(truncatingIfNeeded: rng.next()) }
    }
    return data
}
