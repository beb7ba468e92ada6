import Foundation
@testable import CLIP

/// A loopback imitation of the Hugging Face hub, answering as the real one does (see HubClient's notes and the
/// closing note of issue #11 for where each behaviour was checked):
/// - `/{org}/{name}/resolve/{revision}/{path}`: small files answer `307` with a *relative* `Location` to
///   `/api/resolve-cache/models/{org}/{name}/{commit}/{path}?…`, which serves the body with `X-Repo-Commit` and the
///   git ETag; LFS files answer `302` to a second host (the "CDN", addressed as `localhost`) with `X-Linked-Etag`
///   (sha256), `X-Linked-Size` and `X-Repo-Commit` on the redirect itself.
/// - errors carry `X-Error-Code`: `RepoNotFound` (401, as the hub answers without a token), `RevisionNotFound` (404),
///   `EntryNotFound` (404, with `X-Repo-Commit`), `GatedRepo` (401 without the right token).
/// - renamed repos answer with a relative `307` to the new name.
/// - the CDN serves `/blobs/{sha256}` with `Range: bytes=N-` (206), and can fail on purpose: an error status
///   (with `Retry-After`), a body cut after some bytes, corrupted bytes.
final class HubImitation: @unchecked Sendable {
    struct File {
        var data: Data
        var lfs: Bool
        var sha256: String
        /// Stands in for the git blob sha1 the hub sends as the ETag of small files (clipcl never checks it).
        var gitETag: String { String(sha256.prefix(40)) }
    }

    struct Logged: CustomStringConvertible {
        /// "hub" or "cdn".
        var host: String
        var request: LoopbackHTTPServer.Request
        var description: String { "\(host) \(request.method) \(request.path)" }
    }

    /// A fault for the next requests of one file on the CDN (or, for small files, the resolve-cache answer).
    enum Fault {
        case status(Int, retryAfter: String?)
        case cutAfter(Int)
        case corrupt
    }

    private let lock = NSLock()
    /// repo → revision → commit
    private var revisions: [String: [String: String]] = [:]
    /// repo → every commit ever published (old commits stay reachable by hash)
    private var commitsOf: [String: Set<String>] = [:]
    /// commit → path → file
    private var trees: [String: [String: File]] = [:]
    private var gated: [String: String] = [:]
    private var renamed: [String: String] = [:]
    private var faults: [String: [Fault]] = [:]
    private var log: [Logged] = []
    private var hubServer: LoopbackHTTPServer?
    private var cdnServer: LoopbackHTTPServer?

    init() throws {
        hubServer = try LoopbackHTTPServer { [weak self] r in self?.hub(r) ?? .init(status: 503) }
        cdnServer = try LoopbackHTTPServer { [weak self] r in self?.cdn(r) ?? .init(status: 503) }
    }

    deinit { stop() }

    var endpoint: URL { URL(string: "http://127.0.0.1:\(hubServer!.port)")! }
    /// The same machine under another host name, so the client must treat it as another origin.
    var cdn: URL { URL(string: "http://localhost:\(cdnServer!.port)")! }

    func stop() {
        hubServer?.stop()
        cdnServer?.stop()
    }

    // MARK: - Content

    /// Publishes `files` as a new commit of `repo` at `revision` (default main); returns the commit.
    @discardableResult
    func publish(_ repo: String, revision: String = "main", files: [String: Data], lfs: Set<String> = []) -> String {
        var tree: [String: File] = [:]
        for (path, data) in files {
            tree[path] = File(data: data, lfs: lfs.contains(path), sha256: SHA256.hex(of: data))
        }
        let commit = String(SHA256.hex(of: Data("\(repo)@\(revision)#\(lock.withLock { trees.count })".utf8)).prefix(40))
        lock.withLock {
            trees[commit] = tree
            revisions[repo, default: [:]][revision] = commit
            commitsOf[repo, default: []].insert(commit)
        }
        return commit
    }

    /// Serves the files of a fixture manifest repo (tools/make_hub_fixtures.py): fixture files, or placeholders.
    @discardableResult
    func publish(_ repo: String, manifest: HubFixtures.Repo, skipping: Set<String> = []) throws -> String {
        var files: [String: Data] = [:]
        var lfs: Set<String> = []
        for f in manifest.files where !skipping.contains(f.path) {
            files[f.path] = f.source == "placeholder"
                ? Data("placeholder for \(repo)/\(f.path), served by the hub imitation; clipcl never reads it\n".utf8)
                : try Data(contentsOf: HubFixtures.root.appendingPathComponent(f.source))
            if f.lfs { lfs.insert(f.path) }
        }
        return publish(repo, files: files, lfs: lfs)
    }

    func gate(_ repo: String, token: String) { lock.withLock { gated[repo] = token } }
    func rename(_ old: String, to new: String) { lock.withLock { renamed[old] = new } }

    /// The next requests of `path` (a file of any repo) fail as given, one fault per request.
    func inject(_ faults: [Fault], path: String) { lock.withLock { self.faults[path, default: []] += faults } }

    var requests: [Logged] { lock.withLock { log } }
    func resetLog() { lock.withLock { log.removeAll() } }
    /// The files whose bodies were fetched (GETs on the CDN or on resolve-cache), by path.
    var downloadedPaths: [String] {
        requests.filter { $0.request.method == "GET" && ($0.host == "cdn" || $0.request.path.hasPrefix("/api/resolve-cache/")) }
            .compactMap(pathOf)
    }

    private func pathOf(_ l: Logged) -> String? {
        if l.host == "cdn" {
            let sha = String(l.request.path.dropFirst("/blobs/".count))
            return lock.withLock { trees.values.lazy.compactMap { $0.first(where: { $0.value.sha256 == sha })?.key }.first }
        }
        // /api/resolve-cache/models/{org}/{name}/{commit}/{path}
        return l.request.path.split(separator: "/", maxSplits: 7).dropFirst(6).first.map(String.init)
    }

    // MARK: - The hub

    private func hub(_ r: LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response {
        lock.withLock { log.append(Logged(host: "hub", request: r)) }
        guard r.method == "GET" || r.method == "HEAD" else { return .init(status: 405) }
        let parts = r.target.split(separator: "?", maxSplits: 1)[0].split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if parts.count >= 8, parts[1] == "api", parts[2] == "resolve-cache", parts[3] == "models" {
            return resolveCache(repo: parts[4] + "/" + parts[5], commit: parts[6],
                                path: parts[7...].joined(separator: "/").removingPercentEncoding ?? "", request: r)
        }
        guard parts.count >= 6, parts[3] == "resolve" else { return .init(status: 404) }
        let repo = parts[1] + "/" + parts[2]
        let revision = parts[4].removingPercentEncoding ?? parts[4]
        let path = parts[5...].joined(separator: "/").removingPercentEncoding ?? ""
        let (commits, all, token, newName) = lock.withLock { (revisions[repo], commitsOf[repo] ?? [], gated[repo], renamed[repo]) }
        if let newName {
            return .init(status: 307, headers: ["Location": "/\(newName)/resolve/\(parts[4])/\(parts[5...].joined(separator: "/"))"])
        }
        guard let commits else {
            return .init(status: 401, headers: ["X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"],
                         body: Data("Repository Not Found".utf8))
        }
        if let token, r.headers["authorization"] != "Bearer \(token)" {
            return .init(status: 401, headers: ["X-Error-Code": "GatedRepo",
                                                "X-Error-Message": "Access to model \(repo) is restricted. You must have access to it and be authenticated to access it. Please log in."])
        }
        let commit = commits[revision] ?? (all.contains(revision) ? revision : nil)
        guard let commit, let tree = lock.withLock({ trees[commit] }) else {
            return .init(status: 404, headers: ["X-Error-Code": "RevisionNotFound", "X-Error-Message": "Invalid rev id: \(revision)"])
        }
        guard let file = tree[path] else {
            return .init(status: 404, headers: ["X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found",
                                                "X-Repo-Commit": commit])
        }
        if file.lfs {
            let location = cdn.absoluteString + "/blobs/\(file.sha256)?X-Amz-Signature=imitation"
            return .init(status: 302, headers: ["Location": location, "X-Linked-Etag": "\"\(file.sha256)\"",
                                                "X-Linked-Size": "\(file.data.count)", "X-Repo-Commit": commit,
                                                "ETag": "\"\(file.sha256)\""],
                         body: Data("Found. Redirecting to \(location)".utf8))
        }
        let quotedPath = "%2F\(parts[1])%2F\(parts[2])%2Fresolve%2F\(parts[4])%2F" + parts[5...].joined(separator: "%2F")
        return .init(status: 307, headers: [
            "Location": "/api/resolve-cache/models/\(repo)/\(commit)/\(parts[5...].joined(separator: "/"))?\(quotedPath)=&etag=%22\(file.gitETag)%22",
            "X-Repo-Commit": commit])
    }

    private func resolveCache(repo: String, commit: String, path: String, request: LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response {
        guard let file = lock.withLock({ trees[commit]?[path] }) else { return .init(status: 404) }
        var response = serve(file, path: path, request: request)
        response.headers["X-Repo-Commit"] = commit
        response.headers["ETag"] = "\"\(file.gitETag)\""
        return response
    }

    // MARK: - The CDN

    private func cdn(_ r: LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response {
        lock.withLock { log.append(Logged(host: "cdn", request: r)) }
        let sha = String(r.path.dropFirst("/blobs/".count))
        let found: (String, File)? = lock.withLock {
            for tree in trees.values { if let hit = tree.first(where: { $0.value.sha256 == sha }) { return (hit.key, hit.value) } }
            return nil
        }
        guard r.path.hasPrefix("/blobs/"), let (path, file) = found else { return .init(status: 404) }
        return serve(file, path: path, request: r)
    }

    /// The body of `file`, honouring `Range: bytes=N-` and the next injected fault of `path`.
    private func serve(_ file: File, path: String, request: LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response {
        let fault: Fault? = request.method == "GET" ? lock.withLock {
            guard var queue = faults[path], !queue.isEmpty else { return nil }
            let f = queue.removeFirst()
            faults[path] = queue
            return f
        } : nil
        if case let .status(status, retryAfter)? = fault {
            return .init(status: status, headers: retryAfter.map { ["Retry-After": $0] } ?? [:], body: Data("try again".utf8))
        }
        var body = file.data
        if case .corrupt? = fault, !body.isEmpty {
            for i in stride(from: body.count / 3, to: body.count, by: max(1, body.count / 7)) { body[i] ^= 0xA5 }
        }
        var headers = ["Accept-Ranges": "bytes"]
        var status = 200
        if let range = request.headers["range"] {
            guard range.hasPrefix("bytes="), range.hasSuffix("-"),
                  let start = Int(range.dropFirst("bytes=".count).dropLast()), start < body.count else {
                return .init(status: 416, headers: ["Content-Range": "bytes */\(body.count)"])
            }
            headers["Content-Range"] = "bytes \(start)-\(body.count - 1)/\(body.count)"
            body = body.subdata(in: start..<body.count)
            status = 206
        }
        var cut: Int?
        if case let .cutAfter(k)? = fault { cut = k }
        return .init(status: status, headers: headers, body: body, cutAfter: cut)
    }
}

/// The committed hub fixtures (tools/make_hub_fixtures.py): the real repos' file lists and the expected embeddings.
enum HubFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    struct Manifest: Decodable {
        let texts: [String]
        let repos: [String: Repo]
    }

    struct Repo: Decodable {
        struct File: Decodable {
            let path: String
            let lfs: Bool
            let source: String
        }
        let checked: String
        let files: [File]
    }

    static func manifest() throws -> Manifest {
        try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: root.appendingPathComponent("hub/manifest.json")))
    }
}
