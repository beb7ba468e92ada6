import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One hub repo at one revision, resolved to a single commit: the first commit the cache or the hub names for the
/// revision is pinned, and every later file is asked for at that commit, so the files of one model never come
/// from two commits.
///
/// A file already in the cache is used without any network access (a branch's commit is read from
/// `refs/<branch>`); a file the cache knows to be missing (`.no_exist`) is reported missing offline too.
/// Everything else is asked of the hub and downloaded into the shared cache.
public final class HubRepository: @unchecked Sendable {
    public let id: String
    /// The revision as asked for (branch, tag, commit or `refs/pr/N`).
    public let revision: String
    let client: HubClient
    let cache: HubCache
    private let lock = NSLock()
    private var pinned: String?

    init(client: HubClient, id: String, revision: String) throws(HubError) {
        cache = try HubCache(root: client.cacheDirectory, repo: id)
        guard HubClient.isValidRepoPath(revision) else { throw .invalidPath(repo: id, path: revision) }
        self.client = client
        self.id = id
        self.revision = revision
        pinned = cache.commit(for: revision)
    }

    /// The commit the files come from, once known.
    public var commit: String? { lock.withLock { pinned } }

    /// The snapshot folder (`snapshots/<commit>`) holding the files, once the commit is known.
    public var snapshotDirectory: URL? { commit.map(cache.snapshot) }

    /// The local path of `path`, downloaded first if needed. Throws `.entryNotFound` when the repo has no such file,
    /// `.offlineNotCached` when offline and it is not cached.
    public func file(_ path: String) throws(HubError) -> URL {
        guard let url = try lookup(path, offlineMissingIsAbsent: false) else {
            throw .entryNotFound(repo: id, path: path, revision: revision)
        }
        return url
    }

    /// Like `file(_:)`, but nil when the repo has no such file (or, offline, when it is not cached).
    public func fileIfPresent(_ path: String) throws(HubError) -> URL? {
        try lookup(path, offlineMissingIsAbsent: true)
    }

    /// The first of `paths` the repo has, preferring any that is already cached (no network for those).
    public func firstAvailable(_ paths: [String]) throws(HubError) -> URL? {
        if let c = commit {
            for path in paths { if let url = cache.cachedFile(path, commit: c) { return url } }
        }
        for path in paths { if let url = try fileIfPresent(path) { return url } }
        return nil
    }

    private func lookup(_ path: String, offlineMissingIsAbsent: Bool) throws(HubError) -> URL? {
        guard HubClient.isValidRepoPath(path) else { throw .invalidPath(repo: id, path: path) }
        let known = commit
        if let known {
            if let url = cache.cachedFile(path, commit: known) { return url }
            if cache.isKnownMissing(path, commit: known) { return nil }
        }
        if client.offline {
            // Nothing at all cached for this revision: say so, whichever file was asked for first.
            if offlineMissingIsAbsent, known != nil { return nil }
            let at = known.map { cache.snapshot($0).appendingPathComponent(path).path }
                ?? cache.folder.appendingPathComponent("refs/" + revision).path
            throw .offlineNotCached(repo: id, path: path, cachePath: at)
        }
        switch try client.metadata(repo: id, revision: known ?? revision, path: path) {
        case let .missing(commit):
            if let commit {
                try pin(commit)
                cache.recordMissing(path, commit: commit)
            }
            return nil
        case let .found(remote):
            try pin(remote.commit)
            try fetchBlob(path, remote)
            return try cache.link(path, commit: remote.commit, etag: remote.etag)
        }
    }

    private func pin(_ commit: String) throws(HubError) {
        let first: Bool = lock.withLock {
            guard pinned == nil else { return false }
            pinned = commit
            return true
        }
        if first { try cache.recordRef(revision, commit: commit) }
    }

    /// Downloads `blobs/<etag>` unless it is there, under the blob's lock (shared with huggingface_hub).
    private func fetchBlob(_ path: String, _ remote: HubClient.RemoteFile) throws(HubError) {
        let fm = FileManager.default
        let blob = cache.blob(remote.etag)
        if fm.fileExists(atPath: blob.path) { return }
        do { try fm.createDirectory(at: blob.deletingLastPathComponent(), withIntermediateDirectories: true) } catch {
            throw .io(path: blob.deletingLastPathComponent().path, reason: HubClient.describe(error))
        }
        let lock = try HubFileLock(cache.lockFile(remote.etag))
        defer { lock.unlock() }
        if fm.fileExists(atPath: blob.path) { return }  // another process finished it while we waited
        let partial = URL(fileURLWithPath: blob.path + ".incomplete")
        try client.download(client.resolveURL(repo: id, revision: remote.commit, path: path), repo: id, revision: remote.commit,
                            path: path, to: partial, size: remote.size,
                            sha256: HubClient.isSHA256(remote.etag) ? remote.etag : nil)
        guard rename(partial.path, blob.path) == 0 else {
            throw .io(path: blob.path, reason: "cannot rename the finished download: " + String(cString: strerror(errno)))
        }
        HubClient.syncToDisk(path: blob.deletingLastPathComponent().path)
    }
}
