#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Collects tensors and writes them as one safetensors file.
///
/// The output is byte-deterministic and matches the reference writer (Python/Rust `safetensors`):
/// tensors are laid out by dtype alignment (descending, in the reference's dtype order), then by
/// name (UTF-8 byte order); header entries follow that same order, preceded by `__metadata__`
/// (its keys sorted; omitted when empty); the JSON is compact and padded with spaces so the data
/// starts at a multiple of 8. Floating-point tensors are kept as `Tensor`s (no copy) and converted
/// to F16/BF16 in chunks while writing.
public struct SafeTensorsWriter: Sendable {
    public var metadata: [String: String] = [:]

    private enum Payload: Sendable {
        case floats(Tensor)
        case int64s([Int64])
        case bytes([UInt8])
    }

    private struct Item: Sendable {
        let name: String
        let dtype: SafeTensorsDType
        let shape: [Int]
        let byteCount: Int
        let payload: Payload
    }

    private var items: [Item] = []
    private var usedNames: Set<String> = []

    public init() {}

    /// Adds a Float32 tensor, stored as F32, F16 or BF16 (rounded to nearest even).
    public mutating func add(_ name: String, _ tensor: Tensor, as dtype: SafeTensorsDType = .f32) throws {
        guard dtype == .f32 || dtype == .f16 || dtype == .bf16 else {
            throw SafeTensorsError(.invalidArgument, file: "<memory>", tensor: name,
                                   "tensor \(SafeTensorsError.quoted(name)): a Float tensor can be stored as F32, F16 or BF16, not \(dtype.rawValue)")
        }
        try append(name, dtype: dtype, shape: tensor.shape, elements: tensor.count, payload: .floats(tensor))
    }

    /// Adds an I64 tensor.
    public mutating func add(_ name: String, int64s: [Int64], shape: [Int]) throws {
        try append(name, dtype: .i64, shape: shape, elements: int64s.count, payload: .int64s(int64s))
    }

    /// Adds a tensor given as little-endian bytes of any dtype.
    public mutating func add(_ name: String, rawBytes: [UInt8], dtype: SafeTensorsDType, shape: [Int]) throws {
        guard rawBytes.count % dtype.byteSize == 0 else {
            throw SafeTensorsError(.invalidArgument, file: "<memory>", tensor: name,
                                   "tensor \(SafeTensorsError.quoted(name)): \(rawBytes.count) bytes is not a whole number of \(dtype.rawValue) elements")
        }
        try append(name, dtype: dtype, shape: shape, elements: rawBytes.count / dtype.byteSize, payload: .bytes(rawBytes))
    }

    private mutating func append(_ name: String, dtype: SafeTensorsDType, shape: [Int], elements: Int, payload: Payload) throws {
        func invalid(_ message: String) -> SafeTensorsError {
            SafeTensorsError(.invalidArgument, file: "<memory>", tensor: name, "tensor \(SafeTensorsError.quoted(name)): \(message)")
        }
        guard name != "__metadata__" else { throw invalid("the name __metadata__ is reserved") }
        guard !usedNames.contains(name) else {
            throw SafeTensorsError(.duplicateName, file: "<memory>", tensor: name, "duplicate tensor name \(SafeTensorsError.quoted(name))")
        }
        let expected: Int
        do { expected = try Tensor.elementCount(shape, op: "safetensors") } catch { throw invalid("invalid shape \(shape)") }
        guard expected == elements else { throw invalid("shape \(shape) needs \(expected) elements, got \(elements)") }
        usedNames.insert(name)
        items.append(Item(name: name, dtype: dtype, shape: shape, byteCount: elements * dtype.byteSize, payload: payload))
    }

    // MARK: - Layout

    /// Items in file order, and the padded header JSON.
    private func layout() -> (header: [UInt8], ordered: [Item], dataLength: Int) {
        let ordered = items.sorted {
            $0.dtype.referenceOrder != $1.dtype.referenceOrder
                ? $0.dtype.referenceOrder > $1.dtype.referenceOrder
                : SafeTensorsHeader.byteOrder($0.name, $1.name)
        }
        var json: [UInt8] = [UInt8(ascii: "{")]
        var first = true
        func separator() { if !first { json.append(UInt8(ascii: ",")) }; first = false }
        if !metadata.isEmpty {
            separator()
            HeaderJSON.appendQuoted("__metadata__", to: &json)
            json.append(contentsOf: Array(":{".utf8))
            for (i, key) in metadata.keys.sorted(by: SafeTensorsHeader.byteOrder).enumerated() {
                if i > 0 { json.append(UInt8(ascii: ",")) }
                HeaderJSON.appendQuoted(key, to: &json)
                json.append(UInt8(ascii: ":"))
                HeaderJSON.appendQuoted(metadata[key]!, to: &json)
            }
            json.append(UInt8(ascii: "}"))
        }
        var offset = 0
        for item in ordered {
            separator()
            HeaderJSON.appendQuoted(item.name, to: &json)
            let shape = item.shape.map(String.init).joined(separator: ",")
            json.append(contentsOf: Array(#":{"dtype":"\#(item.dtype.rawValue)","shape":[\#(shape)],"data_offsets":[\#(offset),\#(offset + item.byteCount)]}"#.utf8))
            offset += item.byteCount
        }
        json.append(UInt8(ascii: "}"))
        // Pad with spaces so that 8 + N is a multiple of 8 (the data then starts 8-aligned).
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        return (json, ordered, offset)
    }

    /// Feeds the whole file, in order, to `sink` in pieces.
    private func emit(_ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let (header, ordered, _) = layout()
        var length = UInt64(header.count).littleEndian
        try withUnsafeBytes(of: &length) { try sink($0) }
        try header.withUnsafeBytes { try sink($0) }
        var scratch: [UInt16] = []
        for item in ordered {
            switch item.payload {
            case let .bytes(bytes):
                try bytes.withUnsafeBytes { try sink($0) }
            case let .int64s(values):
                try values.withUnsafeBytes { try sink($0) }
            case let .floats(tensor):
                if item.dtype == .f32 {
                    try tensor.storage.withUnsafeBytes { try sink($0) }
                    continue
                }
                // Convert in chunks to keep the extra memory small for large tensors.
                let chunk = 1 << 16
                if scratch.isEmpty { scratch = [UInt16](repeating: 0, count: chunk) }
                try tensor.storage.withUnsafeBufferPointer { source in
                    var start = 0
                    while start < source.count {
                        let n = min(chunk, source.count - start)
                        let part = UnsafeBufferPointer(rebasing: source[start..<(start + n)])
                        try scratch.withUnsafeMutableBufferPointer { out in
                            if item.dtype == .f16 { HalfFloat.convertFloatToF16(part, into: out) } else { HalfFloat.convertFloatToBF16(part, into: out) }
                            try sink(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(out)[0..<(2 * n)]))
                        }
                        start += n
                    }
                }
            }
        }
    }

    // MARK: - Output

    /// The complete file as bytes.
    public func data() throws -> Data {
        let (header, _, dataLength) = layout()
        var out = Data(capacity: 8 + header.count + dataLength)
        try emit { out.append(contentsOf: $0) }
        return out
    }

    /// Writes the file atomically: a temporary file in the same directory is written, fsynced and
    /// renamed over `url`, so `url` holds either the old file or the complete new one, never a
    /// partial file. The temporary file is removed on failure.
    public func write(to url: URL) throws {
        try write(to: url, beforeRename: {})
    }

    /// `write(to:)` with a hook that runs after the temporary file is complete and synced, just
    /// before the rename (tests use it to inject a failure at the last moment).
    func write(to url: URL, beforeRename: () throws -> Void) throws {
        let path = url.path
        let directory = url.deletingLastPathComponent().path
        let tempPath = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))").path

        let fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SafeTensorsError(.io, file: path, "cannot create a temporary file in \(directory): \(SafeTensorsError.errnoText())")
        }
        var isOpen = true
        do {
            try emit { chunk in try Self.writeAll(fd, chunk, path: path) }
            guard fsync(fd) == 0 else { throw SafeTensorsError(.io, file: path, "fsync failed: \(SafeTensorsError.errnoText())") }
            isOpen = false
            guard close(fd) == 0 else { throw SafeTensorsError(.io, file: path, "close failed: \(SafeTensorsError.errnoText())") }
            try beforeRename()
            guard rename(tempPath, path) == 0 else {
                throw SafeTensorsError(.io, file: path, "cannot rename the temporary file into place: \(SafeTensorsError.errnoText())")
            }
        } catch {
            if isOpen { close(fd) }
            unlink(tempPath)
            throw error
        }
        // Make the rename itself durable. Failure here leaves a complete file, so it is not an error.
        let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            _ = fsync(dirFD)
            close(dirFD)
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        guard var p = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let n = posixWrite(fd, p, remaining)
            if n < 0 {
                if errno == EINTR { continue }
                throw SafeTensorsError(.io, file: path, "write failed: \(SafeTensorsError.errnoText())")
            }
            p += n
            remaining -= n
        }
    }
}

/// `write(2)`, reachable from inside `SafeTensorsWriter` whose own `write(to:)` hides the global name.
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
