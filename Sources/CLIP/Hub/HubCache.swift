import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Hugging Face's own cache layout (what `huggingface_hub`, transformers and open_clip read and write), so a model
/// any of them downloaded is used without a byte of network, and what clipcl downloads is theirs too:
///
/// ```
/// <cache>/models--<org>--<name>/
///   blobs/<etag>                   file contents; etag = sha256 for LFS files, the git blob sha1 otherwise
///   blobs/<etag>.incomplete        a download in progress (resumed with a Range request)
///   snapshots/<commit>/<path>      relative symlink to ../../blobs/<etag> (one more ../ per folder level)
///   refs/<revision>                the commit a branch or tag pointed to (no newline); refs/pr/1 → refs/refs/pr/1
///   .no_exist/<commit>/<path>      empty: the repo has no such file at that commit
/// <cache>/.locks/models--<org>--<name>/<etag>.lock   flock held while a blob is downloaded
/// ```
/// All reads and writes here are local; `HubRepository` decides when to ask the network.
struct HubCache: Sendable {
    let root: URL
    let repo: String

    init(root: URL, repo: String) throws(HubError) {
        guard HubClient.isRepoID(repo) else { throw .invalidRepoID(repo) }
        self.root = root
        self.repo = repo
    }

    var folderName: String { "models--" + repo.replacingOccurrences(of: "/", with: "--") }
    var folder: URL { root.appendingPathComponent(folderName, isDirectory: true) }

    func snapshot(_ commit: String) -> URL {
        folder.appendingPathComponent("snapshots", isDirectory: true).appendingPathComponent(commit, isDirectory: true)
    }

    func blob(_ etag: String) -> URL { folder.appendingPathComponent("blobs/" + etag) }
    func lockFile(_ etag: String) -> URL { root.appendingPathComponent(".locks/\(folderName)/\(etag).lock") }

    static func isCommit(_ s: String) -> Bool {
        s.utf8.count == 40 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// The commit `revision` names in the cache: itself when it is a commit hash, else the content of `refs/<revision>`.
    func commit(for revision: String) -> String? {
        if Self.isCommit(revision) { return revision }
        guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent("refs/" + revision).path) else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return Self.isCommit(text) ? text : nil
    }

    /// The snapshot file of `path` at `commit`, if it is there (a symlink must point at an existing blob).
    func cachedFile(_ path: String, commit: String) -> URL? {
        let url = snapshot(commit).appendingPathComponent(path)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// Whether an earlier answer recorded that the repo has no `path` at `commit`.
    func isKnownMissing(_ path: String, commit: String) -> Bool {
        FileManager.default.fileExists(atPath: folder.appendingPathComponent(".no_exist/\(commit)/\(path)").path)
    }

    func recordMissing(_ path: String, commit: String) {
        let url = folder.appendingPathComponent(".no_exist/\(commit)/\(path)")
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
    }

    /// Points `refs/<revision>` at `commit` (atomically; not for commit hashes).
    func recordRef(_ revision: String, commit: String) throws(HubError) {
        guard !Self.isCommit(revision), self.commit(for: revision) != commit else { return }
        let url = folder.appendingPathComponent("refs/" + revision)
        try Self.writeAtomically(Data(commit.utf8), to: url)
    }

    /// Makes `snapshots/<commit>/<path>` a relative symlink to `blobs/<etag>` (replacing what was there).
    func link(_ path: String, commit: String, etag: String) throws(HubError) -> URL {
        let pointer = snapshot(commit).appendingPathComponent(path)
        let depth = path.split(separator: "/").count - 1
        let target = String(repeating: "../", count: depth + 2) + "blobs/" + etag
        let dir = pointer.deletingLastPathComponent()
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw .io(path: dir.path, reason: HubClient.describe(error))
        }
        let temporary = dir.appendingPathComponent(".\(pointer.lastPathComponent).\(UUID().uuidString).tmp-link").path
        unlink(temporary)
        guard symlink(target, temporary) == 0, rename(temporary, pointer.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw .io(path: pointer.path, reason: "cannot link to blobs/\(etag): " + reason)
        }
        return pointer
    }

    /// The sha256 a snapshot file is known by without reading it: the name of the blob it links to, when that
    /// name is a sha256 (LFS files are stored under their sha256, which the hub announced and the download checked).
    static func recordedSHA256(of file: URL) -> String? {
        let resolved = file.resolvingSymlinksInPath()
        guard resolved.deletingLastPathComponent().lastPathComponent == "blobs" else { return nil }
        let name = resolved.lastPathComponent
        return HubClient.isSHA256(name) ? name.lowercased() : nil
    }

    static func writeAtomically(_ data: Data, to url: URL) throws(HubError) {
        let dir = url.deletingLastPathComponent()
        let temporary = dir.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try data.write(to: temporary)
        } catch { throw .io(path: url.path, reason: HubClient.describe(error)) }
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary.path)
            throw .io(path: url.path, reason: reason)
        }
    }
}

/// An exclusive `flock` on a lock file (created with its folders), held until `unlock()`. The same lock files and
/// the same kind of lock as huggingface_hub's (`filelock` uses flock on Linux), so the two never download one blob
/// at the same time. Excludes other threads of this process too, since each instance opens its own description.
struct HubFileLock {
    private let fd: Int32

    init(_ url: URL) throws(HubError) {
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: url.path, reason: "cannot open lock file: " + String(cString: strerror(errno))) }
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let reason = String(cString: strerror(errno))
            close(fd)
            throw .io(path: url.path, reason: "cannot lock: " + reason)
        }
    }

    func unlock() {
        _ = flock(fd, LOCK_UN)
        close(fd)
    }
}
