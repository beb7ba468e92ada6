import Foundation

/// Errors of hub downloads. Every message is one line naming the repo, file, URL or cache path involved.
///
/// The hub says what is missing in its `X-Error-Code` header; only `entryNotFound` means "the repo has no such
/// file", which callers use to try another file name. Everything else is final.
public enum HubError: Error, CustomStringConvertible, LocalizedError, Sendable, Equatable {
    /// The repo exists at that revision but has no such file (`X-Error-Code: EntryNotFound`, or a plain 404).
    case entryNotFound(repo: String, path: String, revision: String)
    /// No such repo, or a private one without access (`X-Error-Code: RepoNotFound`; the hub answers 401 without a token).
    case repoNotFound(repo: String, endpoint: String, tokenSent: Bool)
    /// No such branch, tag or commit (`X-Error-Code: RevisionNotFound`).
    case revisionNotFound(repo: String, revision: String)
    /// A gated repo whose terms the token's user has not accepted, or no token (`X-Error-Code: GatedRepo`).
    case gated(repo: String, endpoint: String, message: String?, tokenSent: Bool)
    /// Any other 401/403 (e.g. an invalid token).
    case unauthorized(repo: String, path: String, url: String, status: Int, detail: String?, tokenSent: Bool)
    /// Any other unexpected HTTP status, after retries for 408/429/5xx.
    case httpStatus(repo: String, path: String, url: String, status: Int, detail: String?)
    /// No connection could be made at all (connection refused, host not found, no network, connect timeout).
    case unreachable(url: String, reason: String)
    /// The connection failed after it was made (dropped, timed out mid-transfer), after retries.
    case network(url: String, reason: String)
    /// The server answered, but not like the hub (e.g. no `X-Repo-Commit`).
    case notAHub(url: String, reason: String)
    /// Offline (`--offline`, `HF_HUB_OFFLINE=1`) and the file is not in the cache.
    case offlineNotCached(repo: String, path: String, cachePath: String)
    /// The downloaded size differs from the announced size (the partial file was deleted).
    case sizeMismatch(repo: String, path: String, expected: Int64, actual: Int64)
    /// The downloaded bytes do not hash to the announced sha256 (the partial file was deleted).
    case checksumMismatch(repo: String, path: String, expected: String, actual: String)
    /// Not an `org/name` hub id.
    case invalidRepoID(String)
    /// A file path or revision that would leave the repo's cache folder (absolute, `..`, empty).
    case invalidPath(repo: String, path: String)
    /// A local file-system failure in the cache.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case let .entryNotFound(repo, path, revision):
            "file '\(path)' not found in hub repo '\(repo)' at revision '\(revision)'"
        case let .repoNotFound(repo, endpoint, tokenSent):
            "hub repo '\(repo)' not found at \(endpoint): check the spelling"
                + (tokenSent ? ", and that HF_TOKEN has access if it is private" : "; a private repo needs HF_TOKEN")
        case let .revisionNotFound(repo, revision):
            "revision '\(revision)' not found in hub repo '\(repo)' (a branch, tag, commit or refs/pr/N)"
        case let .gated(repo, endpoint, message, tokenSent):
            "hub repo '\(repo)' is gated\(Self.suffix(message)): "
                + (tokenSent ? "accept its terms at \(endpoint)/\(repo) with the account of HF_TOKEN"
                             : "accept its terms at \(endpoint)/\(repo) and set HF_TOKEN (or log in with `hf auth login`)")
        case let .unauthorized(repo, path, url, status, detail, tokenSent):
            "access denied to '\(path)' of hub repo '\(repo)' (HTTP \(status)\(Self.suffix(detail))) at \(url): "
                + (tokenSent ? "check that HF_TOKEN is valid and has access to it" : "set HF_TOKEN to an access token")
        case let .httpStatus(repo, path, url, status, detail):
            "cannot download '\(path)' of hub repo '\(repo)': HTTP \(status)\(Self.suffix(detail)) from \(url)"
        case let .unreachable(url, reason):
            "cannot reach \(url): \(reason); check the network or HF_ENDPOINT, or use --offline with a cached model"
        case let .network(url, reason):
            "download of \(url) failed: \(reason); run the command again to resume"
        case let .notAHub(url, reason):
            "\(url) does not answer like a Hugging Face hub (\(reason)); check HF_ENDPOINT"
        case let .offlineNotCached(repo, path, cachePath):
            "hub repo '\(repo)' is not in the cache for offline use: '\(path)' not found at \(cachePath)"
                + " (run once without --offline/HF_HUB_OFFLINE to download it)"
        case let .sizeMismatch(repo, path, expected, actual):
            "download of '\(path)' from hub repo '\(repo)' has \(actual) bytes, expected \(expected); partial file deleted, try again"
        case let .checksumMismatch(repo, path, expected, actual):
            "download of '\(path)' from hub repo '\(repo)' is corrupt: sha256 \(actual), expected \(expected); partial file deleted, try again"
        case let .invalidRepoID(id):
            "'\(id)' is not a hub model id (expected org/name using letters, digits, '.', '_', '-')"
        case let .invalidPath(repo, path):
            "invalid file path or revision '\(path)' for hub repo '\(repo)'"
        case let .io(path, reason):
            "hub cache error at \(path): \(reason)"
        }
    }

    public var errorDescription: String? { description }

    private static func suffix(_ detail: String?) -> String {
        guard let d = detail, !d.isEmpty else { return "" }
        return " (" + d.replacingOccurrences(of: "\n", with: " ") + ")"
    }
}
