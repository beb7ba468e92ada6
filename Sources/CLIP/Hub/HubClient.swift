import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Talks to a Hugging Face hub (`$HF_ENDPOINT`, default https://huggingface.co) the way `huggingface_hub` does,
/// and keeps what it downloads in Hugging Face's shared cache (`HubCache`). `repository(_:revision:)` gives a
/// `HubRepository`, which resolves and downloads files.
///
/// The protocol, as the hub serves it:
/// - `HEAD {endpoint}/{repo}/resolve/{revision}/{path}` (no automatic redirects). Relative redirects are followed
///   (renamed repos, and the hub's `307 → /api/resolve-cache/...` for small files); an absolute redirect (`302` to
///   the CDN for LFS files) is not, and its own headers are the answer: `X-Repo-Commit` (the commit the revision
///   is at), `X-Linked-Etag` / `ETag` (the blob name: sha256 for LFS, git sha1 otherwise), `X-Linked-Size` /
///   `Content-Length`.
/// - Errors carry `X-Error-Code`: `RepoNotFound` (also any 401 without it, as the hub answers for missing or
///   private repos), `RevisionNotFound`, `EntryNotFound`, `GatedRepo`.
/// - `GET` of the same URL follows every redirect; `Authorization` goes to the hub only, never to the CDN.
///   A partial file is resumed with `Range: bytes=N-`.
/// - 408, 429 and 5xx answers and dropped connections are retried with backoff (1 s doubling to 8 s, or the
///   server's `Retry-After`), resuming the partial file; a hub that cannot be reached at all fails at once.
public struct HubClient: Sendable {
    /// Hub base URL (`$HF_ENDPOINT` or `https://huggingface.co`).
    public let endpoint: URL
    /// Hugging Face hub cache (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`).
    public let cacheDirectory: URL
    /// No network access at all: only cached files are used.
    public let offline: Bool
    /// Called with (file path in the repo, bytes done, total bytes if known) while downloading.
    public let progress: (@Sendable (String, Int64, Int64?) -> Void)?
    /// `$HF_TOKEN`, or the token file; sent as `Authorization: Bearer` to the hub only.
    let token: String?
    /// Idle timeout of each request, in seconds.
    var timeout: TimeInterval = 60
    /// Attempts per request for transient failures (408, 429, 5xx, dropped connections).
    var maxAttempts = 5
    /// The first wait between attempts; it doubles up to `maxRetryDelay`.
    var retryDelay: TimeInterval = 1
    var maxRetryDelay: TimeInterval = 8

    public init(endpoint: URL? = nil, cacheDirectory: URL? = nil, offline: Bool = false,
                progress: (@Sendable (String, Int64, Int64?) -> Void)? = nil) {
        self.init(endpoint: endpoint, cacheDirectory: cacheDirectory, offline: offline,
                  environment: ProcessInfo.processInfo.environment, progress: progress)
    }

    /// Like the public initializer, with the environment given explicitly (for tests).
    init(endpoint: URL?, cacheDirectory: URL?, offline: Bool, environment: [String: String],
         progress: (@Sendable (String, Int64, Int64?) -> Void)?) {
        self.endpoint = endpoint ?? Self.resolveEndpoint(environment: environment)
        self.cacheDirectory = cacheDirectory ?? Self.resolveCacheDirectory(environment: environment)
        self.offline = offline || Self.resolveOffline(environment: environment)
        self.progress = progress
        self.token = Self.resolveToken(environment: environment)
    }

    /// `repo` at `revision` (branch, tag, commit or `refs/pr/N`).
    public func repository(_ repo: String, revision: String = "main") throws(HubError) -> HubRepository {
        try HubRepository(client: self, id: repo, revision: revision)
    }

    // MARK: - Environment (the variables huggingface_hub reads)

    public static let defaultEndpoint = URL(string: "https://huggingface.co")!

    /// `HF_ENDPOINT` (trailing slashes removed) if set and a valid http(s) URL, else `https://huggingface.co`.
    public static func resolveEndpoint(environment: [String: String]) -> URL {
        guard var s = environment["HF_ENDPOINT"]?.trimmingCharacters(in: .whitespaces), !s.isEmpty else {
            return defaultEndpoint
        }
        while s.hasSuffix("/") { s.removeLast() }
        guard let url = URL(string: s), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              url.host != nil else { return defaultEndpoint }
        return url
    }

    /// `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`.
    static func resolveHome(environment: [String: String]) -> URL {
        func dir(_ key: String) -> URL? {
            guard let v = environment[key], !v.isEmpty else { return nil }
            return URL(fileURLWithPath: (v as NSString).expandingTildeInPath, isDirectory: true)
        }
        if let home = dir("HF_HOME") { return home }
        if let xdg = dir("XDG_CACHE_HOME") { return xdg.appendingPathComponent("huggingface", isDirectory: true) }
        let user = dir("HOME") ?? FileManager.default.homeDirectoryForCurrentUser
        return user.appendingPathComponent(".cache/huggingface", isDirectory: true)
    }

    /// `HF_HUB_CACHE`, else the older `HUGGINGFACE_HUB_CACHE`, else `<HF home>/hub`.
    public static func resolveCacheDirectory(environment: [String: String]) -> URL {
        for key in ["HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"] {
            if let dir = environment[key], !dir.isEmpty {
                return URL(fileURLWithPath: (dir as NSString).expandingTildeInPath, isDirectory: true)
            }
        }
        return resolveHome(environment: environment).appendingPathComponent("hub", isDirectory: true)
    }

    /// True when `HF_HUB_OFFLINE` (or transformers' `TRANSFORMERS_OFFLINE`) is `1`, `true`, `yes` or `on`.
    public static func resolveOffline(environment: [String: String]) -> Bool {
        ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"].contains { key in
            guard let v = environment[key]?.trimmingCharacters(in: .whitespaces).lowercased() else { return false }
            return ["1", "true", "yes", "on"].contains(v)
        }
    }

    /// `HF_TOKEN` (or the older `HUGGING_FACE_HUB_TOKEN`), else the token file (`HF_TOKEN_PATH`, default
    /// `<HF home>/token`, written by `hf auth login`); whitespace trimmed, empty means none.
    public static func resolveToken(environment: [String: String]) -> String? {
        for key in ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"] {
            if let t = environment[key]?.trimmingCharacters(in: .whitespacesAndNewlines), !t.isEmpty { return t }
        }
        let path = environment["HF_TOKEN_PATH"].flatMap { $0.isEmpty ? nil : ($0 as NSString).expandingTildeInPath }
            ?? resolveHome(environment: environment).appendingPathComponent("token").path
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let t = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return t.isEmpty ? nil : t
    }

    // MARK: - Names

    /// Whether `s` looks like a hub model id `org/name`: exactly one slash, both parts 1...96 characters of
    /// `[A-Za-z0-9._-]`, no `..` or `--`, each part starting and ending with a letter, digit or `_`.
    /// Callers check first whether `s` exists as a local path.
    public static func isRepoID(_ s: String) -> Bool {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !s.contains(".."), !s.contains("--") else { return false }
        for part in parts {
            guard (1...96).contains(part.utf8.count), let first = part.utf8.first, let last = part.utf8.last else { return false }
            for c in part.utf8 where !(isWordByte(c) || c == UInt8(ascii: ".") || c == UInt8(ascii: "-")) { return false }
            guard isWordByte(first), isWordByte(last) else { return false }
        }
        return true
    }

    /// A model id as users write it: `org/name`, `org/name@REV`, or open_clip's `hf-hub:org/name[@REV]`.
    /// Nil when it is none of these.
    public static func parseModelID(_ s: String) -> (repo: String, revision: String?)? {
        var id = Substring(s)
        if id.hasPrefix("hf-hub:") { id = id.dropFirst("hf-hub:".count) }
        var revision: String?
        if let at = id.firstIndex(of: "@") {
            revision = String(id[id.index(after: at)...])
            id = id[..<at]
            guard let r = revision, isValidRepoPath(r) else { return nil }
        }
        return isRepoID(String(id)) ? (String(id), revision) : nil
    }

    private static func isWordByte(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == UInt8(ascii: "_")
    }

    /// Whether `path` is a relative path inside a repo (no empty, `.` or `..` components): file paths and revisions.
    static func isValidRepoPath(_ path: String) -> Bool {
        guard !path.isEmpty, !path.contains("\0"), !path.contains("\\") else { return false }
        return path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
    }

    /// `{endpoint}/{repo}/resolve/{revision}/{path}`; the revision is one path segment (`refs%2Fpr%2F1`).
    public func resolveURL(repo: String, revision: String, path: String) -> URL {
        var base = endpoint.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        var revisionChars = CharacterSet.urlPathAllowed
        revisionChars.remove("/")
        let rev = revision.addingPercentEncoding(withAllowedCharacters: revisionChars) ?? revision
        let p = path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path
        return URL(string: "\(base)/\(repo)/resolve/\(rev)/\(p)")!
    }

    /// The sha256 of a cached hub file, known without reading it: the name of the LFS blob it links to.
    public static func recordedSHA256(of file: URL) -> String? { HubCache.recordedSHA256(of: file) }

    static func isSHA256(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) || ($0 >= 0x41 && $0 <= 0x46) }
    }

    /// `scheme://host:port` of a URL, to tell the hub from other hosts.
    static func origin(_ url: URL) -> String {
        let scheme = url.scheme?.lowercased() ?? ""
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        return "\(scheme)://\(url.host?.lowercased() ?? ""):\(port)"
    }

    // MARK: - Metadata (HEAD)

    /// What the hub says about one file.
    struct RemoteFile: Equatable {
        /// The commit the requested revision is at.
        var commit: String
        /// The blob name: the LFS sha256, or the git blob sha1 of a small file.
        var etag: String
        var size: Int64?
    }

    enum Lookup: Equatable {
        case found(RemoteFile)
        /// `EntryNotFound`, with the commit when the answer named it.
        case missing(commit: String?)
    }

    /// HEAD on the resolve URL of `path` at `revision`, following relative redirects only.
    func metadata(repo: String, revision: String, path: String) throws(HubError) -> Lookup {
        var url = resolveURL(repo: repo, revision: revision, path: path)
        var redirects = 0
        var attempt = 1
        while true {
            var request = makeRequest(url: url, method: "HEAD")
            request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
            let (response, error) = Self.send(request, session: makeSession(delegate: NoRedirectDelegate()))
            guard let http = response else {
                let reason = error.map(Self.describe) ?? "no HTTP response"
                if let error, Self.isConnectFailure(error) { throw .unreachable(url: url.absoluteString, reason: reason) }
                guard attempt < maxAttempts else { throw .network(url: url.absoluteString, reason: reason) }
                wait(attempt: attempt, response: nil)
                attempt += 1
                continue
            }
            let status = http.statusCode
            if (300..<400).contains(status), let location = http.value(forHTTPHeaderField: "Location"),
               let target = URL(string: location, relativeTo: url), URL(string: location)?.host == nil {
                redirects += 1
                guard redirects <= 10 else { throw .notAHub(url: url.absoluteString, reason: "more than 10 redirects") }
                url = target.absoluteURL
                continue
            }
            if Self.isTransient(status), attempt < maxAttempts {
                wait(attempt: attempt, response: http)
                attempt += 1
                continue
            }
            let commit = http.value(forHTTPHeaderField: "X-Repo-Commit").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard status < 400 else {
                let failure = classify(http, url: url, repo: repo, revision: revision, path: path)
                if case .entryNotFound = failure { return .missing(commit: commit.flatMap { HubCache.isCommit($0) ? $0 : nil }) }
                throw failure
            }
            guard let commit, HubCache.isCommit(commit) else {
                throw .notAHub(url: url.absoluteString, reason: "no X-Repo-Commit header naming a commit")
            }
            guard let etag = (http.value(forHTTPHeaderField: "X-Linked-Etag") ?? http.value(forHTTPHeaderField: "ETag"))
                .flatMap(Self.normalizeETag) else {
                throw .notAHub(url: url.absoluteString, reason: "no ETag")
            }
            var size = http.value(forHTTPHeaderField: "X-Linked-Size").flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
            if size == nil, status < 300 {
                // The Content-Length of a redirect is that of its own body, not of the file.
                size = http.value(forHTTPHeaderField: "Content-Length").flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
            }
            return .found(RemoteFile(commit: commit, etag: etag, size: size))
        }
    }

    /// An ETag without `W/` and quotes, if it can name a blob (hex digits only, 40 or 64 of them).
    static func normalizeETag(_ etag: String) -> String? {
        var s = etag.trimmingCharacters(in: .whitespaces)
        if s.hasPrefix("W/") || s.hasPrefix("w/") { s.removeFirst(2) }
        s = s.trimmingCharacters(in: CharacterSet(charactersIn: "\"")).lowercased()
        guard s.utf8.count == 40 || s.utf8.count == 64, s.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else { return nil }
        return s
    }

    /// The error an error status means, by the hub's `X-Error-Code`.
    func classify(_ http: HTTPURLResponse, url: URL, repo: String, revision: String, path: String) -> HubError {
        let code = http.value(forHTTPHeaderField: "X-Error-Code")
        let message = http.value(forHTTPHeaderField: "X-Error-Message")
        let status = http.statusCode
        switch code {
        case "RepoNotFound": return .repoNotFound(repo: repo, endpoint: endpoint.absoluteString, tokenSent: token != nil)
        case "RevisionNotFound": return .revisionNotFound(repo: repo, revision: revision)
        case "EntryNotFound": return .entryNotFound(repo: repo, path: path, revision: revision)
        case "GatedRepo": return .gated(repo: repo, endpoint: endpoint.absoluteString, message: message, tokenSent: token != nil)
        default: break
        }
        let detail = [code, message].compactMap { $0 }.joined(separator: ": ")
        switch status {
        case 401 where message != "Invalid credentials in Authorization header":
            return .repoNotFound(repo: repo, endpoint: endpoint.absoluteString, tokenSent: token != nil)
        case 401, 403:
            return .unauthorized(repo: repo, path: path, url: url.absoluteString, status: status,
                                 detail: detail.isEmpty ? nil : detail, tokenSent: token != nil)
        case 404:
            return .entryNotFound(repo: repo, path: path, revision: revision)
        default:
            return .httpStatus(repo: repo, path: path, url: url.absoluteString, status: status, detail: detail.isEmpty ? nil : detail)
        }
    }

    // MARK: - Downloads (GET)

    /// Downloads `url` into `partial`, resuming what is there, until it holds `size` bytes; checks the sha256
    /// when known. On a size or checksum mismatch the partial file is deleted.
    func download(_ url: URL, repo: String, revision: String, path: String, to partial: URL,
                  size expectedSize: Int64?, sha256: String?) throws(HubError) {
        let fm = FileManager.default
        var attempt = 1
        var restartedAfter416 = false
        while true {
            var offset = ((try? fm.attributesOfItem(atPath: partial.path))?[.size] as? NSNumber)?.int64Value ?? 0
            if let expected = expectedSize, offset > expected {
                try? fm.removeItem(at: partial)
                offset = 0
            }
            if let expected = expectedSize, offset == expected, offset > 0 {
                return try verify(partial, size: offset, expectedSize: expected, sha256: sha256, repo: repo, path: path)
            }
            let outcome = try get(url, repo: repo, revision: revision, path: path, partial: partial, offset: offset)
            switch outcome {
            case let .done(size, total):
                return try verify(partial, size: size, expectedSize: expectedSize ?? total, sha256: sha256, repo: repo, path: path)
            case let .retry(error, response):
                guard attempt < maxAttempts else { throw error }
                wait(attempt: attempt, response: response)
                attempt += 1
            case let .restart(error):
                // 416: the partial file does not fit the remote file (e.g. it changed); start over once.
                try? fm.removeItem(at: partial)
                guard !restartedAfter416 else { throw error }
                restartedAfter416 = true
            }
        }
    }

    enum Outcome {
        /// The body arrived whole: bytes now in the partial file, and the total the server announced.
        case done(Int64, total: Int64?)
        /// A transient failure: a dropped connection or a 408/429/5xx answer.
        case retry(HubError, HTTPURLResponse?)
        /// HTTP 416 on a resume request.
        case restart(HubError)
    }

    /// One GET (following redirects) appending to `partial` from `offset`.
    private func get(_ url: URL, repo: String, revision: String, path: String, partial: URL,
                     offset: Int64) throws(HubError) -> Outcome {
        let fm = FileManager.default
        if !fm.fileExists(atPath: partial.path), !fm.createFile(atPath: partial.path, contents: nil) {
            throw .io(path: partial.path, reason: "cannot create file")
        }
        var request = makeRequest(url: url, method: "GET")
        var kept = ["Accept-Encoding": "identity"]
        if offset > 0 { kept["Range"] = "bytes=\(offset)-" }
        for (k, v) in kept { request.setValue(v, forHTTPHeaderField: k) }
        var report: (@Sendable (Int64, Int64?) -> Void)?
        if let progress { report = { @Sendable done, total in progress(path, done, total) } }
        let delegate = DownloadDelegate(partial: partial, resumeOffset: offset, keptHeaders: kept,
                                        authorization: request.value(forHTTPHeaderField: "Authorization"),
                                        origin: Self.origin(url), report: report)
        let session = makeSession(delegate: delegate)
        session.dataTask(with: request).resume()
        delegate.done.wait()
        session.finishTasksAndInvalidate()
        let r = delegate.result()

        let clean = r.localError == nil && r.transportError == nil
        if let handle = r.handle {
            if clean { try? handle.synchronize() }
            try? handle.close()
        }
        if let local = r.localError {
            if case .rangeMismatch = local { try? fm.removeItem(at: partial) }
            throw .io(path: partial.path, reason: local.description)
        }
        guard let http = r.response else {
            // The HEAD just reached the hub, so a failed connection here (often to the CDN) is retried too.
            let error = r.transportError
            let reason = error.map(Self.describe) ?? "no HTTP response"
            if let error, Self.isConnectFailure(error) { return .retry(.unreachable(url: url.absoluteString, reason: reason), nil) }
            return .retry(.network(url: url.absoluteString, reason: reason), nil)
        }
        let status = http.statusCode
        if Self.isTransient(status) {
            return .retry(.httpStatus(repo: repo, path: path, url: url.absoluteString, status: status,
                                      detail: http.value(forHTTPHeaderField: "X-Error-Message")), http)
        }
        if status == 416 {
            return .restart(.httpStatus(repo: repo, path: path, url: url.absoluteString, status: status,
                                        detail: "range not satisfiable for a partial download of \(offset) bytes"))
        }
        guard (200..<300).contains(status) else { throw classify(http, url: url, repo: repo, revision: revision, path: path) }
        if let error = r.transportError {
            return .retry(.network(url: url.absoluteString, reason: Self.describe(error) + " after \(r.bytesOnDisk) bytes"), nil)
        }
        return .done(r.bytesOnDisk, total: r.total)
    }

    /// Checks size and sha256 of the complete partial file; deletes it when they are wrong.
    private func verify(_ partial: URL, size: Int64, expectedSize: Int64?, sha256: String?, repo: String,
                        path: String) throws(HubError) {
        let fm = FileManager.default
        if let expected = expectedSize, expected != size {
            try? fm.removeItem(at: partial)
            throw .sizeMismatch(repo: repo, path: path, expected: expected, actual: size)
        }
        if let sha256 {
            // Hashed from disk rather than while receiving: FoundationNetworking queues every received chunk on the
            // delegate queue without back-pressure, so a slow consumer would pile up the whole file in memory.
            let digest: String
            do { digest = try SHA256.hex(ofFile: partial) } catch {
                throw .io(path: partial.path, reason: "cannot read the download back: " + Self.describe(error))
            }
            guard digest == sha256.lowercased() else {
                try? fm.removeItem(at: partial)
                throw .checksumMismatch(repo: repo, path: path, expected: sha256.lowercased(), actual: digest)
            }
        }
        Self.syncToDisk(path: partial.path)
        progress?(path, size, size)
    }

    // MARK: - Requests

    static func isTransient(_ status: Int) -> Bool { [408, 429, 500, 502, 503, 504].contains(status) }

    /// Waits before attempt `attempt + 1`: the server's `Retry-After` (seconds, at most 60) when given,
    /// else `retryDelay · 2^(attempt−1)`, at most `maxRetryDelay`.
    private func wait(attempt: Int, response: HTTPURLResponse?) {
        var delay = min(retryDelay * pow(2, Double(attempt - 1)), maxRetryDelay)
        if let after = response?.value(forHTTPHeaderField: "Retry-After").flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }),
           after >= 0 {
            delay = min(after, 60)
        }
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
    }

    private func makeRequest(url: URL, method: String) -> URLRequest {
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        request.httpMethod = method
        request.setValue("clipcl", forHTTPHeaderField: "User-Agent")
        if let token, Self.origin(url) == Self.origin(endpoint) {
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        }
        return request
    }

    private func makeSession(delegate: URLSessionDelegate) -> URLSession {
        let config = URLSessionConfiguration.ephemeral
        config.urlCache = nil
        config.requestCachePolicy = .reloadIgnoringLocalCacheData
        config.httpCookieStorage = nil
        config.timeoutIntervalForRequest = timeout
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        return URLSession(configuration: config, delegate: delegate, delegateQueue: queue)
    }

    /// Sends a body-less request and waits for its answer.
    private static func send(_ request: URLRequest, session: URLSession) -> (HTTPURLResponse?, Error?) {
        defer { session.finishTasksAndInvalidate() }
        let box = HeadResult()
        let done = DispatchSemaphore(value: 0)
        session.dataTask(with: request) { _, response, error in
            box.set(response as? HTTPURLResponse, error)
            done.signal()
        }.resume()
        done.wait()
        return box.get()
    }

    /// No connection could be made: the hub is unreachable (rather than a connection that broke).
    static func isConnectFailure(_ error: Error) -> Bool {
        let ns = error as NSError
        guard ns.domain == NSURLErrorDomain else { return false }
        return [NSURLErrorCannotConnectToHost, NSURLErrorCannotFindHost, NSURLErrorDNSLookupFailed,
                NSURLErrorNotConnectedToInternet, NSURLErrorTimedOut, NSURLErrorInternationalRoamingOff,
                NSURLErrorDataNotAllowed].contains(ns.code)
    }

    /// A short one-line description of a transport or file-system error.
    static func describe(_ error: Error) -> String {
        let ns = error as NSError
        if ns.domain == NSURLErrorDomain {
            let text: String
            switch ns.code {
            case NSURLErrorCannotConnectToHost: text = "connection refused"
            case NSURLErrorCannotFindHost, NSURLErrorDNSLookupFailed: text = "host not found"
            case NSURLErrorNotConnectedToInternet: text = "no network connection"
            case NSURLErrorTimedOut: text = "timed out"
            case NSURLErrorNetworkConnectionLost: text = "connection lost"
            case NSURLErrorCancelled: text = "cancelled"
            case NSURLErrorSecureConnectionFailed, NSURLErrorServerCertificateUntrusted, NSURLErrorServerCertificateHasBadDate,
                 NSURLErrorServerCertificateNotYetValid, NSURLErrorServerCertificateHasUnknownRoot:
                text = "TLS connection failed"
            default: text = ns.localizedDescription
            }
            return "\(text) (URL error \(ns.code))"
        }
        return ns.localizedDescription.replacingOccurrences(of: "\n", with: " ")
    }

    static func syncToDisk(path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}
