import Foundation

/// Errors of hub downloads. Every message is one line naming the repo, file, URL or cache path involved.
public enum HubError: Error, CustomStringConvertible, LocalizedError, Sendable, Equatable {
    /// The repo exists but has no such file (HTTP 404). Callers use it to try alternatives.
    case notFound(repo: String, path: String)
    /// Offline (`offline: true` or `HF_HUB_OFFLINE=1`) and the file is not in the cache.
    case offlineNotCached(repo: String, path: String, cachePath: String)
    /// HTTP 401/403: gated or private repo, or a missing/invalid `HF_TOKEN`.
    case unauthorized(repo: String, path: String, url: String, status: Int, detail: String?, tokenSent: Bool)
    /// Any other unexpected HTTP status.
    case httpStatus(repo: String, path: String, url: String, status: Int, detail: String?)
    /// Transport failure (no connection, DNS, timeout, connection cut).
    case network(url: String, reason: String)
    /// The downloaded size differs from the announced size (the partial file was deleted).
    case sizeMismatch(repo: String, path: String, expected: Int64, actual: Int64)
    /// The downloaded bytes do not hash to the announced sha256 (the partial file was deleted).
    case checksumMismatch(repo: String, path: String, expected: String, actual: String)
    /// Not an `org/name` hub id.
    case invalidRepoID(String)
    /// A file path that would leave the repo folder (absolute, `..`, empty).
    case invalidPath(repo: String, path: String)
    /// A local file-system failure in the cache.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notFound(repo, path):
            "file '\(path)' not found in hub repo '\(repo)' (HTTP 404)"
        case let .offlineNotCached(repo, path, cachePath):
            "model id '\(repo)' is unknown while offline and not in the cache: '\(path)' not found at \(cachePath)"
                + " (run once without --offline/HF_HUB_OFFLINE to download it)"
        case let .unauthorized(repo, path, url, status, detail, tokenSent):
            "access denied to '\(path)' of hub repo '\(repo)' (HTTP \(status)\(Self.suffix(detail))) at \(url): "
                + "the repo may be gated or private, or may not exist; "
                + (tokenSent ? "check that HF_TOKEN is valid and has access to it"
                             : "accept its terms on the hub and set HF_TOKEN to an access token")
        case let .httpStatus(repo, path, url, status, detail):
            "cannot download '\(path)' of hub repo '\(repo)': HTTP \(status)\(Self.suffix(detail)) from \(url)"
        case let .network(url, reason):
            "cannot download \(url): \(reason); check the network or HF_ENDPOINT, or use --offline with a cached model"
        case let .sizeMismatch(repo, path, expected, actual):
            "download of '\(path)' from hub repo '\(repo)' has \(actual) bytes, expected \(expected); partial file deleted, try again"
        case let .checksumMismatch(repo, path, expected, actual):
            "download of '\(path)' from hub repo '\(repo)' is corrupt: sha256 \(actual), expected \(expected); partial file deleted, try again"
        case let .invalidRepoID(id):
            "'\(id)' is not a hub model id (expected org/name using letters, digits, '.', '_', '-')"
        case let .invalidPath(repo, path):
            "invalid file path '\(path)' for hub repo '\(repo)'"
        case let .io(path, reason):
            "hub cache error at \(path): \(reason)"
        }
    }

    public var errorDescription: String? { description }

    private static func suffix(_ detail: String?) -> String {
        guard let d = detail, !d.isEmpty else { return "" }
        return ", " + d.replacingOccurrences(of: "\n", with: " ")
    }
}
