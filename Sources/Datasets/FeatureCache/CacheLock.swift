// One writer per cache directory: an exclusive flock on `DIR/.lock`, holding the writer's pid.

#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// An exclusive, non-blocking `flock` on `DIR/.lock`. The kernel drops it when the process dies (even by
/// `kill -9`), so a stale lock file never blocks a rerun. While held, the file contains the holder's pid;
/// on release it is truncated to empty, so a finished cache's `.lock` is always the same (empty) file.
public final class CacheLock: @unchecked Sendable {
    public let url: URL
    private var fd: Int32

    private init(url: URL, fd: Int32) {
        self.url = url
        self.fd = fd
    }

    /// Takes the lock of `dir` (created if needed) or throws a one-line error naming the holder's pid.
    public static func acquire(_ dir: URL) throws -> CacheLock {
        let url = dir.appendingPathComponent(FeatureCacheFiles.lockName)
        let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FeatureCacheError(url, "cannot open the lock file: \(FeatureCacheFiles.errnoText())") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = readPID(fd)
            close(fd)
            if code == EWOULDBLOCK {
                throw FeatureCacheError(dir, "locked by another writer (pid \(holder.map(String.init) ?? "unknown")); "
                                        + "wait for it to finish or stop it — two writers must not share a cache")
            }
            throw FeatureCacheError(url, "cannot lock: \(String(cString: strerror(code)))")
        }
        let pid = Array("\(getpid())\n".utf8)
        guard ftruncate(fd, 0) == 0, pid.withUnsafeBytes({ pwrite(fd, $0.baseAddress, $0.count, 0) }) == pid.count else {
            let reason = FeatureCacheFiles.errnoText()
            close(fd)
            throw FeatureCacheError(url, "cannot write the lock file: \(reason)")
        }
        return CacheLock(url: url, fd: fd)
    }

    private static func readPID(_ fd: Int32) -> Int? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return Int(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Empties the lock file and releases the lock (also done on deinit).
    public func release() {
        guard fd >= 0 else { return }
        _ = ftruncate(fd, 0)
        _ = flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}

extension CacheLock {
    /// The lock of `dir` for a writer: the folder is created if needed, locked, and cleared of the temporary files
    /// a killed writer left.
    static func forWriting(_ dir: URL) throws -> CacheLock {
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw FeatureCacheError(dir, "cannot create the folder (\(FeatureCacheFiles.reason(error)))")
        }
        let lock = try acquire(dir)
        // Only now, holding the lock: no other writer's temporary file can be in flight.
        for name in FeatureCacheFiles.names(in: dir) where FeatureCacheFiles.isTemporary(name) {
            unlink(dir.appendingPathComponent(name).path)
        }
        return lock
    }
}
