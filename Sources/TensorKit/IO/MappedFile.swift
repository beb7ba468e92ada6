#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A regular file mapped read-only and private, for readers that use tensors in place (safetensors, PyTorch
/// checkpoints). Pages are read from disk only when touched; `adviseDone(_:)` lets the kernel drop them again.
/// Immutable after `init`, hence safe to share between threads.
public final class MappedFile: @unchecked Sendable {
    public let url: URL
    /// The whole file (valid as long as this object lives).
    public let bytes: UnsafeRawBufferPointer

    /// Why a file could not be mapped: one line, without the path (callers put it in their own error type).
    public struct Failure: Error, Sendable {
        public let reason: String
    }

    public init(_ url: URL) throws(Failure) {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(reason: "cannot open: " + Self.errnoText()) }
        // The mapping stays valid after the descriptor is closed.
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Failure(reason: "cannot stat: " + Self.errnoText()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw Failure(reason: "not a regular file") }
        let size = Int(info.st_size)
        self.url = url
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapping != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw Failure(reason: "cannot mmap: " + Self.errnoText())
        }
        bytes = UnsafeRawBufferPointer(start: mapping, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }

    /// Tells the kernel the pages of `range` are no longer needed (`madvise(MADV_DONTNEED)`), so they stop counting
    /// towards resident memory. Safe: the mapping is private and never written, so a later access reads the file
    /// again. Pages shared with neighbouring data are dropped too, with the same harmless effect.
    public func adviseDone(_ range: Range<Int>) {
        guard let base = bytes.baseAddress, !range.isEmpty, range.lowerBound >= 0, range.upperBound <= bytes.count else { return }
        let page = max(Int(sysconf(Int32(_SC_PAGESIZE))), 1)
        let start = range.lowerBound / page * page
        let end = min((range.upperBound + page - 1) / page * page, (bytes.count + page - 1) / page * page)
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, Int32(MADV_DONTNEED))
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
