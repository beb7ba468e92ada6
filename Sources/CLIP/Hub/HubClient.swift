import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Downloads files of Hugging Face hub model repos into a local cache and returns their paths.
///
/// Cache layout: `<cache>/models/<org>--<name>/<revision>/<path>`, with `<path>.sha256` holding the verified
/// sha256 of the file, `<path>.incomplete` a partial download (resumed with a `Range` request) and
/// `<path>.lock` the `flock` that serialises concurrent downloads of the same file across processes.
/// A cached file is returned without any network access, so a filled cache works offline.
public struct HubClient: Sendable {
    /// Hub base URL (`$HF_ENDPOINT` or `https://huggingface.co`).
    public let endpoint: URL
    /// Cache root (`$CLIPCL_CACHE` or `~/.cache/clipcl`).
    public let cacheDirectory: URL
    /// No network access at all: only cached files are returned.
    public let offline: Bool
    /// Branch, tag or commit the files are resolved at.
    public let revision: String
    /// Called with (file path in the repo, bytes done, total bytes if known) while downloading.
    public let progress: (@Sendable (String, Int64, Int64?) -> Void)?
    /// `$HF_TOKEN`, sent as `Authorization: Bearer` to the hub (never to a redirect target on another host).
    let token: String?
    /// Idle timeout of each request, in seconds.
    var timeout: TimeInterval = 60
    /// GET attempts per `file` call; a retry after a dropped connection resumes where the previous one stopped.
    var maxAttempts = 3

    public init(endpoint: URL? = nil, cacheDirectory: URL? = nil, offline: Bool = false, revision: String = "main",
                progress: (@Sendable (String, Int64, Int64?) -> Void)? = nil) {
        self.init(endpoint: endpoint, cacheDirectory: cacheDirectory, offline: offline, revision: revision,
                  environment: ProcessInfo.processInfo.environment, progress: progress)
    }

    /// Like the public initializer, with the environment given explicitly (for tests).
    init(endpoint: URL?, cacheDirectory: URL?, offline: Bool, revision: String, environment: [String: String],
         progress: (@Sendable (String, Int64, Int64?) -> Void)?) {
        self.endpoint = endpoint ?? Self.resolveEndpoint(environment: environment)
        self.cacheDirectory = cacheDirectory ?? Self.resolveCacheDirectory(environment: environment)
        self.offline = offline || Self.resolveOffline(environment: environment)
        self.revision = revision
        self.progress = progress
        self.token = Self.resolveToken(environment: environment)
    }

    // MARK: - Environment

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

    /// `CLIPCL_CACHE` if set, else `~/.cache/clipcl` (`$HOME`, falling back to the user's home directory).
    public static func resolveCacheDirectory(environment: [String: String]) -> URL {
        if let dir = environment["CLIPCL_CACHE"], !dir.isEmpty {
            return URL(fileURLWithPath: (dir as NSString).expandingTildeInPath, isDirectory: true)
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0, isDirectory: true) }
            ?? FileManager.default.homeDirectoryForCurrentUser
        return home.appendingPathComponent(".cache/clipcl", isDirectory: true)
    }

    /// True when `HF_HUB_OFFLINE` is `1`, `true`, `yes` or `on`.
    public static func resolveOffline(environment: [String: String]) -> Bool {
        guard let v = environment["HF_HUB_OFFLINE"]?.trimmingCharacters(in: .whitespaces).lowercased() else { return false }
        return ["1", "true", "yes", "on"].contains(v)
    }

    /// `HF_TOKEN` (or the older `HUGGING_FACE_HUB_TOKEN`), if set and not empty.
    public static func resolveToken(environment: [String: String]) -> String? {
        for key in ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"] {
            if let t = environment[key]?.trimmingCharacters(in: .whitespacesAndNewlines), !t.isEmpty { return t }
        }
        return nil
    }

    // MARK: - Names and paths

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

    private static func isWordByte(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == UInt8(ascii: "_")
    }

    /// Whether `path` is a relative file path inside a repo (no empty, `.` or `..` components).
    static func isValidRepoPath(_ path: String) -> Bool {
        guard !path.isEmpty, !path.contains("\0"), !path.contains("\\") else { return false }
        return path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
    }

    /// The local folder of `repo` at this client's revision: `<cache>/models/<org>--<name>/<revision>`.
    public func repoDirectory(repo: String) throws(HubError) -> URL {
        guard Self.isRepoID(repo) else { throw .invalidRepoID(repo) }
        let revisionFolder = revision.replacingOccurrences(of: "/", with: "--")
        guard Self.isValidRepoPath(revisionFolder) else { throw .invalidPath(repo: repo, path: "revision " + revision) }
        return cacheDirectory.appendingPathComponent("models", isDirectory: true)
            .appendingPathComponent(repo.replacingOccurrences(of: "/", with: "--"), isDirectory: true)
            .appendingPathComponent(revisionFolder, isDirectory: true)
    }

    /// Where `path` of `repo` is (or will be) cached. No network access, no file-system changes.
    public func cachedFileURL(repo: String, path: String) throws(HubError) -> URL {
        let dir = try repoDirectory(repo: repo)
        guard Self.isValidRepoPath(path) else { throw .invalidPath(repo: repo, path: path) }
        return dir.appendingPathComponent(path, isDirectory: false)
    }

    /// `{endpoint}/{repo}/resolve/{revision}/{path}`, percent-encoded.
    public func resolveURL(repo: String, path: String) -> URL {
        var base = endpoint.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        var revisionChars = CharacterSet.urlPathAllowed
        revisionChars.remove("/")
        let rev = revision.addingPercentEncoding(withAllowedCharacters: revisionChars) ?? revision
        let p = path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path
        return URL(string: "\(base)/\(repo)/resolve/\(rev)/\(p)")!
    }

    /// The sha256 recorded next to a file downloaded by `file(repo:path:)` (`<file>.sha256`), if any.
    public static func recordedSHA256(of file: URL) -> String? {
        guard let data = FileManager.default.contents(atPath: file.path + ".sha256") else { return nil }
        let s = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return isSHA256(s) ? s : nil
    }

    // MARK: - Downloads

    /// The cached copy of `path` in hub repo `repo`, downloading it first if it is not cached.
    /// A cache hit makes no network access. Throws `HubError.notFound` for a file the repo does not have.
    public func file(repo: String, path: String) throws(HubError) -> URL {
        let final = try cachedFileURL(repo: repo, path: path)
        let fm = FileManager.default
        if fm.fileExists(atPath: final.path) { return final }
        if offline { throw .offlineNotCached(repo: repo, path: path, cachePath: final.path) }

        let dir = final.deletingLastPathComponent()
        do { try fm.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw .io(path: dir.path, reason: Self.describe(error))
        }
        // Another process (or thread) may be downloading the same file: wait for it, then use its result.
        let lock = try FileLock(path: final.path + ".lock")
        defer { lock.unlock() }
        if fm.fileExists(atPath: final.path) { return final }
        try download(repo: repo, path: path, to: final)
        return final
    }

    /// Makes sure `required` files (and those of `optional` the repo has) are cached; returns the repo's local folder.
    /// Optional files missing from the repo (HTTP 404), or not cached while offline, are skipped.
    public func snapshot(repo: String, required: [String], optional: [String] = []) throws(HubError) -> URL {
        for path in required { _ = try file(repo: repo, path: path) }
        for path in optional {
            do { _ = try file(repo: repo, path: path) } catch {
                switch error {
                case .notFound, .offlineNotCached: continue
                default: throw error
                }
            }
        }
        return try repoDirectory(repo: repo)
    }

    /// What the HEAD request on the resolve URL announced.
    struct RemoteMetadata: Equatable {
        var size: Int64?
        var sha256: String?
    }

    private func download(repo: String, path: String, to final: URL) throws(HubError) {
        let url = resolveURL(repo: repo, path: path)
        let meta = try head(url: url, repo: repo, path: path)
        let partial = URL(fileURLWithPath: final.path + ".incomplete")
        var attempt = 1
        var restartedAfter416 = false
        while true {
            switch try get(url: url, repo: repo, path: path, partial: partial, final: final, meta: meta) {
            case .done:
                return
            case let .retry(error, progressed):
                guard progressed, attempt < maxAttempts else { throw error }
                attempt += 1
            case let .restart(error):
                // 416: the partial file does not fit the remote file (e.g. it changed); start over once.
                try? FileManager.default.removeItem(at: partial)
                guard !restartedAfter416 else { throw error }
                restartedAfter416 = true
            }
        }
    }

    /// HEAD on the resolve URL without following redirects: the hub answers LFS files with a redirect to its CDN
    /// carrying `X-Linked-Size` and `X-Linked-Etag` (the sha256), which the redirect target does not repeat.
    func head(url: URL, repo: String, path: String) throws(HubError) -> RemoteMetadata {
        var request = makeRequest(url: url, method: "HEAD")
        request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        let delegate = NoRedirectDelegate()
        let session = makeSession(delegate: delegate)
        defer { session.finishTasksAndInvalidate() }
        let box = HeadResult()
        let done = DispatchSemaphore(value: 0)
        session.dataTask(with: request) { _, response, error in
            box.set(response as? HTTPURLResponse, error)
            done.signal()
        }.resume()
        done.wait()
        let (response, error) = box.get()
        guard let http = response else {
            throw .network(url: url.absoluteString, reason: error.map(Self.describe) ?? "no HTTP response")
        }
        let status = http.statusCode
        try checkStatus(status, response: http, url: url, repo: repo, path: path)
        guard (200..<400).contains(status) else {
            throw .httpStatus(repo: repo, path: path, url: url.absoluteString, status: status, detail: Self.errorDetail(http))
        }
        var meta = RemoteMetadata()
        if let linked = http.value(forHTTPHeaderField: "X-Linked-Size").flatMap({ Int64($0.trimmingCharacters(in: .whitespaces)) }) {
            meta.size = linked
        } else if status < 300, let length = http.value(forHTTPHeaderField: "Content-Length").flatMap({ Int64($0.trimmingCharacters(in: .whitespaces)) }) {
            // The Content-Length of a redirect is that of its own body, not of the file.
            meta.size = length
        }
        if let etag = http.value(forHTTPHeaderField: "X-Linked-Etag") {
            meta.sha256 = Self.sha256(fromETag: etag)
        }
        return meta
    }

    /// The sha256 in an LFS ETag (`"<64 hex>"`, maybe weak `W/"..."`); nil for anything else (e.g. a git blob hash).
    static func sha256(fromETag etag: String) -> String? {
        var s = etag.trimmingCharacters(in: .whitespaces)
        if s.hasPrefix("W/") || s.hasPrefix("w/") { s.removeFirst(2) }
        s = s.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        let lower = s.lowercased()
        return isSHA256(lower) ? lower : nil
    }

    static func isSHA256(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) || ($0 >= 0x41 && $0 <= 0x46) }
    }

    enum Outcome {
        case done
        /// A transport failure; `progressed` when this attempt stored new bytes (so a retry resumes further on).
        case retry(HubError, progressed: Bool)
        /// HTTP 416 on a resume request.
        case restart(HubError)
    }

    /// One GET (following redirects) appending to `partial`, resuming from its current size.
    private func get(url: URL, repo: String, path: String, partial: URL, final: URL,
                     meta: RemoteMetadata) throws(HubError) -> Outcome {
        let fm = FileManager.default
        var offset = ((try? fm.attributesOfItem(atPath: partial.path))?[.size] as? NSNumber)?.int64Value ?? 0
        if let expected = meta.size, offset > expected {
            try? fm.removeItem(at: partial)
            offset = 0
        }
        if let expected = meta.size, offset == expected, offset > 0 {
            try finish(partial: partial, final: final, size: offset, expectedSize: expected,
                       meta: meta, repo: repo, path: path)
            return .done
        }
        if !fm.fileExists(atPath: partial.path), !fm.createFile(atPath: partial.path, contents: nil) {
            throw .io(path: partial.path, reason: "cannot create file")
        }

        var request = makeRequest(url: url, method: "GET")
        var kept = ["Accept-Encoding": "identity"]
        if offset > 0 { kept["Range"] = "bytes=\(offset)-" }
        for (k, v) in kept { request.setValue(v, forHTTPHeaderField: k) }
        let name = path
        var report: (@Sendable (Int64, Int64?) -> Void)?
        if let progress { report = { @Sendable done, total in progress(name, done, total) } }
        let delegate = DownloadDelegate(partial: partial, resumeOffset: offset, keptHeaders: kept,
                                        authorization: request.value(forHTTPHeaderField: "Authorization"),
                                        originHost: url.host, report: report)
        let session = makeSession(delegate: delegate)
        session.dataTask(with: request).resume()
        delegate.done.wait()
        session.finishTasksAndInvalidate()
        let r = delegate.result()

        let synced = r.localError == nil && r.transportError == nil
        if let handle = r.handle {
            if synced { try? handle.synchronize() }
            try? handle.close()
        }
        if let local = r.localError {
            if case .rangeMismatch = local { try? fm.removeItem(at: partial) }
            throw .io(path: partial.path, reason: local.description)
        }
        guard let http = r.response else {
            let reason = r.transportError.map(Self.describe) ?? "no HTTP response"
            return .retry(.network(url: url.absoluteString, reason: reason), progressed: false)
        }
        let status = http.statusCode
        try checkStatus(status, response: http, url: url, repo: repo, path: path)
        if status == 416 {
            return .restart(.httpStatus(repo: repo, path: path, url: url.absoluteString, status: status,
                                        detail: "range not satisfiable for a partial download of \(offset) bytes"))
        }
        guard (200..<300).contains(status) else {
            throw .httpStatus(repo: repo, path: path, url: url.absoluteString, status: status, detail: Self.errorDetail(http))
        }
        if let error = r.transportError {
            let progressed = r.bytesOnDisk > (r.restarted ? 0 : offset)
            return .retry(.network(url: url.absoluteString, reason: Self.describe(error) + " after \(r.bytesOnDisk) bytes"),
                          progressed: progressed)
        }
        try finish(partial: partial, final: final, size: r.bytesOnDisk,
                   expectedSize: meta.size ?? r.total, meta: meta, repo: repo, path: path)
        return .done
    }

    /// Verifies size and sha256 of the complete partial file, records the sha256 and renames it into place.
    private func finish(partial: URL, final: URL, size: Int64, expectedSize: Int64?,
                        meta: RemoteMetadata, repo: String, path: String) throws(HubError) {
        let fm = FileManager.default
        if let expected = expectedSize, expected != size {
            try? fm.removeItem(at: partial)
            throw .sizeMismatch(repo: repo, path: path, expected: expected, actual: size)
        }
        // Hashed from disk rather than while receiving: FoundationNetworking queues every received chunk on the
        // delegate queue without back-pressure, so a slow consumer (hashing in a debug build) would pile up the
        // whole file in memory. Writing alone keeps up; hashing the finished file streams it in 4 MB chunks.
        let digest: String
        do { digest = try SHA256.hex(ofFile: partial) } catch {
            throw .io(path: partial.path, reason: "cannot read the download back: " + Self.describe(error))
        }
        if let expected = meta.sha256, expected != digest {
            try? fm.removeItem(at: partial)
            throw .checksumMismatch(repo: repo, path: path, expected: expected, actual: digest)
        }
        do {
            try Data((digest + "\n").utf8).write(to: URL(fileURLWithPath: final.path + ".sha256"), options: .atomic)
        } catch { throw .io(path: final.path + ".sha256", reason: Self.describe(error)) }
        Self.syncToDisk(path: partial.path)
        guard rename(partial.path, final.path) == 0 else {
            throw .io(path: final.path, reason: "cannot rename the finished download: " + String(cString: strerror(errno)))
        }
        Self.syncToDisk(path: final.deletingLastPathComponent().path)
        progress?(path, size, size)
    }

    private func checkStatus(_ status: Int, response: HTTPURLResponse, url: URL, repo: String, path: String) throws(HubError) {
        switch status {
        case 404:
            // The hub says which is missing; a missing repo is reported like a missing file.
            throw .notFound(repo: repo, path: path)
        case 401, 403:
            throw .unauthorized(repo: repo, path: path, url: url.absoluteString, status: status,
                                detail: Self.errorDetail(response), tokenSent: token != nil)
        default:
            return
        }
    }

    private func makeRequest(url: URL, method: String) -> URLRequest {
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        request.httpMethod = method
        request.setValue("clipcl", forHTTPHeaderField: "User-Agent")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
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

    /// The hub's own explanation of an error status (`X-Error-Code` / `X-Error-Message`), if sent.
    static func errorDetail(_ response: HTTPURLResponse) -> String? {
        let parts = ["X-Error-Code", "X-Error-Message"].compactMap { response.value(forHTTPHeaderField: $0) }
        return parts.isEmpty ? nil : parts.joined(separator: ": ")
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

// MARK: - Helpers

/// An exclusive `flock` on a lock file, held until `unlock()`. Excludes other processes and, since each
/// instance opens its own file description, other threads of this process too.
private struct FileLock {
    private let fd: Int32

    init(path: String) throws(HubError) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: path, reason: "cannot open lock file: " + String(cString: strerror(errno))) }
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let reason = String(cString: strerror(errno))
            close(fd)
            throw .io(path: path, reason: "cannot lock: " + reason)
        }
    }

    func unlock() {
        _ = flock(fd, LOCK_UN)
        close(fd)
    }
}

/// Result of the HEAD request, written by the completion handler, read after the semaphore.
private final class HeadResult: @unchecked Sendable {
    private let lock = NSLock()
    private var response: HTTPURLResponse?
    private var error: Error?

    func set(_ response: HTTPURLResponse?, _ error: Error?) { lock.withLock { (self.response, self.error) = (response, error) } }
    func get() -> (HTTPURLResponse?, Error?) { lock.withLock { (response, error) } }
}

/// Stops redirects, so the HEAD request sees the hub's own response (and its `X-Linked-*` headers).
private final class NoRedirectDelegate: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        completionHandler(nil)
    }
}

private enum DownloadFailure: Error, CustomStringConvertible {
    case notHTTP
    case rangeMismatch(expected: Int64, got: String?)
    case write(String)

    var description: String {
        switch self {
        case .notHTTP: "not an HTTP response"
        case let .rangeMismatch(expected, got):
            "server resumed at the wrong offset (asked for byte \(expected), got Content-Range \(got ?? "none")); partial file deleted"
        case let .write(reason): "cannot write: \(reason)"
        }
    }
}

/// Streams a GET response into the partial file. Follows redirects, keeping the `Range`
/// header and sending `Authorization` only to the original host.
private final class DownloadDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    struct Result {
        var response: HTTPURLResponse?
        var handle: FileHandle?
        var bytesOnDisk: Int64
        var total: Int64?
        var restarted: Bool
        var transportError: Error?
        var localError: DownloadFailure?
    }

    let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private let partial: URL
    private let resumeOffset: Int64
    private let keptHeaders: [String: String]
    private let authorization: String?
    private let originHost: String?
    private let report: (@Sendable (Int64, Int64?) -> Void)?
    private var state: Result
    private var lastReport: Int64 = 0
    private static let reportEvery: Int64 = 1 << 20

    init(partial: URL, resumeOffset: Int64, keptHeaders: [String: String], authorization: String?,
         originHost: String?, report: (@Sendable (Int64, Int64?) -> Void)?) {
        self.partial = partial
        self.resumeOffset = resumeOffset
        self.keptHeaders = keptHeaders
        self.authorization = authorization
        self.originHost = originHost
        self.report = report
        state = Result(bytesOnDisk: resumeOffset, restarted: false)
    }

    func result() -> Result { lock.withLock { state } }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        var next = request
        for (k, v) in keptHeaders { next.setValue(v, forHTTPHeaderField: k) }
        if let authorization, next.url?.host == originHost {
            next.setValue(authorization, forHTTPHeaderField: "Authorization")
        } else {
            next.setValue(nil, forHTTPHeaderField: "Authorization")
        }
        completionHandler(next)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        let disposition: URLSession.ResponseDisposition = lock.withLock {
            guard let http = response as? HTTPURLResponse else {
                state.localError = .notHTTP
                return .cancel
            }
            state.response = http
            // Error statuses: no body needed, the status says it all.
            guard (200..<300).contains(http.statusCode) else { return .cancel }
            do {
                let handle = try FileHandle(forWritingTo: partial)
                state.handle = handle
                if http.statusCode == 206 {
                    let range = http.value(forHTTPHeaderField: "Content-Range")
                    guard let parsed = range.flatMap(Self.parseContentRange), parsed.start == resumeOffset else {
                        state.localError = .rangeMismatch(expected: resumeOffset, got: range)
                        return .cancel
                    }
                    try handle.truncate(atOffset: UInt64(resumeOffset))
                    state.total = parsed.total
                } else {
                    // A full answer (also when a resume was asked for and the server ignored the Range): start over.
                    try handle.truncate(atOffset: 0)
                    state.bytesOnDisk = 0
                    state.restarted = resumeOffset > 0
                    state.total = http.expectedContentLength >= 0 ? http.expectedContentLength : nil
                }
            } catch {
                state.localError = .write(HubClient.describe(error))
                return .cancel
            }
            lastReport = state.bytesOnDisk
            return .allow
        }
        if disposition == .allow {
            let (done, total) = lock.withLock { (state.bytesOnDisk, state.total) }
            report?(done, total)
        } else {
            // FoundationNetworking ignores the disposition passed to the completion handler (the body keeps
            // coming), so stop the transfer explicitly; the recorded status or error decides what happens next.
            dataTask.cancel()
        }
        completionHandler(disposition)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let progress: (Int64, Int64?)? = lock.withLock {
            guard state.localError == nil, let handle = state.handle else { return nil }
            do { try handle.write(contentsOf: data) } catch {
                state.localError = .write(HubClient.describe(error))
                dataTask.cancel()
                return nil
            }
            state.bytesOnDisk += Int64(data.count)
            guard state.bytesOnDisk - lastReport >= Self.reportEvery else { return nil }
            lastReport = state.bytesOnDisk
            return (state.bytesOnDisk, state.total)
        }
        if let (done, total) = progress { report?(done, total) }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        lock.withLock { state.transportError = error }
        done.signal()
    }

    /// `bytes <start>-<end>/<total or *>`.
    static func parseContentRange(_ value: String) -> (start: Int64, end: Int64, total: Int64?)? {
        let v = value.trimmingCharacters(in: .whitespaces)
        guard v.lowercased().hasPrefix("bytes ") else { return nil }
        let spec = v.dropFirst(6).split(separator: "/", maxSplits: 1)
        guard spec.count == 2 else { return nil }
        let bounds = spec[0].split(separator: "-", maxSplits: 1)
        guard bounds.count == 2, let start = Int64(bounds[0].trimmingCharacters(in: .whitespaces)),
              let end = Int64(bounds[1].trimmingCharacters(in: .whitespaces)) else { return nil }
        return (start, end, Int64(spec[1].trimmingCharacters(in: .whitespaces)))
    }
}
