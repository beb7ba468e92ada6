import Foundation

/// A PyTorch checkpoint written by `torch.save` (the zip format of PyTorch ≥ 1.6), read without executing
/// anything: `pytorch_model.bin` (HF transformers), `open_clip_pytorch_model.bin`, `*.pt` / `*.pth` state dicts.
///
/// The archive is memory-mapped; `<archive>/data.pkl` goes through `RestrictedUnpickler` with the
/// `.torchStateDict` vocabulary (ordered dicts, `_rebuild_tensor_v2` / `_rebuild_parameter`, typed storages as
/// persistent ids), so a pickle can describe tensors and nothing else. Each tensor is a strided view into a
/// storage record `<archive>/data/<key>`; every view is checked to lie inside its storage when the file is opened,
/// and tensors are read in place from the mapping (converted to Float32) only when asked for.
///
/// Accepted layouts: a dict of tensors (a state dict; non-tensor values are ignored), or a training checkpoint
/// `{"state_dict": {...}, ...}` as open_clip writes it, whose `module.` prefix (DistributedDataParallel) is removed
/// when every name has it. Refused, each with one line naming the file: TorchScript archives (`torch.jit.save`,
/// e.g. OpenAI's original `ViT-B-32.pt`), the legacy non-zip format of PyTorch < 1.6, big-endian archives,
/// compressed members, and any pickle outside the vocabulary.
public final class TorchCheckpointFile: TensorFile, @unchecked Sendable {
    /// One tensor: `shape` and `strides` (elements) of a view starting `offset` elements into a storage.
    struct Entry {
        let dtype: SafeTensorsDType
        let shape: [Int]
        let strides: [Int]
        let offset: Int
        /// The storage record's bytes within the file.
        let storage: Range<Int>

        var elementCount: Int { shape.reduce(1, *) }
        var isContiguous: Bool {
            var expected = 1
            for (n, s) in zip(shape, strides).reversed() where n != 1 {
                guard s == expected else { return false }
                expected *= n
            }
            return true
        }
    }

    public let url: URL
    public let names: [String]
    private let entries: [String: Entry]
    private let file: MappedFile

    public init(contentsOf url: URL) throws {
        let path = url.path
        func fail(_ message: String) -> TorchCheckpointError { TorchCheckpointError(file: path, message: message) }
        do { file = try MappedFile(url) } catch { throw fail(error.reason) }
        self.url = url
        let bytes = file.bytes
        guard ZipDirectory.isZip(bytes) else { throw fail(Self.describeNonZip(bytes)) }
        let archive: ZipDirectory
        do { archive = try ZipDirectory(bytes) } catch { throw fail(error.reason) }

        // Every record sits in one folder named after the file the archive was saved as ("archive" for streams).
        guard let first = archive.entries.first, let slash = first.name.firstIndex(of: "/") else {
            throw fail("a zip archive, but not a torch.save checkpoint (no <archive>/data.pkl)")
        }
        let prefix = String(first.name[..<slash]) + "/"
        if archive.entry(prefix + "constants.pkl") != nil || archive.entries.contains(where: { $0.name.hasPrefix(prefix + "code/") }) {
            throw fail("a TorchScript archive (torch.jit.save), which is code, not weights: refused; load it in PyTorch "
                       + "and save its state_dict() with torch.save or safetensors")
        }
        guard let pickle = archive.entry(prefix + "data.pkl") else {
            throw fail("a zip archive, but not a torch.save checkpoint (no \(prefix)data.pkl)")
        }
        func stored(_ e: ZipDirectory.Entry) throws -> UnsafeRawBufferPointer {
            guard e.method == 0 else { throw fail("record \(e.name) is compressed (method \(e.method)); torch.save stores records uncompressed") }
            return UnsafeRawBufferPointer(rebasing: bytes[e.dataRange])
        }
        if let order = archive.entry(prefix + "byteorder") {
            let text = String(decoding: try stored(order), as: UTF8.self)
            guard text == "little" else { throw fail("byte order '\(text.prefix(16))' is not supported (only little-endian)") }
        }

        let value = try RestrictedUnpickler.unpickle(bytes: try stored(pickle), name: "\(path) (\(prefix)data.pkl)",
                                                     vocabulary: .torchStateDict)
        var tensors = try Self.stateDict(value, fail: fail)
        if tensors.allSatisfy({ $0.name.hasPrefix("module.") }) {
            tensors = tensors.map { (String($0.name.dropFirst("module.".count)), $0.tensor) }
        }

        var entries: [String: Entry] = [:]
        var storageTypes: [String: SafeTensorsDType] = [:]
        for (name, t) in tensors {
            let s = t.storage
            guard let record = archive.entry(prefix + "data/" + s.key) else {
                throw fail("tensor '\(name)' uses storage \(s.key), which has no record \(prefix)data/\(s.key)")
            }
            guard storageTypes.updateValue(s.dtype, forKey: s.key).map({ $0 == s.dtype }) ?? true else {
                throw fail("storage \(s.key) is named with two element types")
            }
            let (bytesNeeded, o1) = s.elementCount.multipliedReportingOverflow(by: s.dtype.byteSize)
            _ = try stored(record)
            guard !o1, bytesNeeded == record.dataRange.count else {
                throw fail("storage \(s.key) of tensor '\(name)' should hold \(s.elementCount) \(s.dtype.rawValue) elements "
                           + "but its record has \(record.dataRange.count) bytes")
            }
            // The view's last element, offset + Σ (n_i − 1)·stride_i, must lie inside the storage.
            var last = t.offset, count = 1, overflow = false
            for (n, stride) in zip(t.shape, t.strides) {
                let (c, o2) = count.multipliedReportingOverflow(by: n)
                count = c
                overflow = overflow || o2
                if n > 0 {
                    let (step, o3) = (n - 1).multipliedReportingOverflow(by: stride)
                    let (l, o4) = last.addingReportingOverflow(step)
                    last = l
                    overflow = overflow || o3 || o4
                }
            }
            guard !overflow, t.offset <= s.elementCount, count == 0 || last < s.elementCount else {
                throw fail("tensor '\(name)' of shape \(t.shape) (strides \(t.strides), offset \(t.offset)) reaches past "
                           + "its storage of \(s.elementCount) elements")
            }
            guard entries.updateValue(Entry(dtype: s.dtype, shape: t.shape, strides: t.strides, offset: t.offset,
                                            storage: record.dataRange), forKey: name) == nil else {
                throw fail("tensor name '\(name)' appears twice")
            }
        }
        self.entries = entries
        self.names = entries.keys.sorted()
    }

    public func shape(of name: String) -> [Int]? { entries[name]?.shape }

    /// Tensor `name` (F32, F16, BF16 or F64) as a contiguous Float32 `Tensor`.
    public func tensor(_ name: String) throws -> Tensor {
        guard let e = entries[name] else { throw TorchCheckpointError(file: url.path, message: "no tensor named '\(name)'") }
        guard e.dtype.isFloatingPoint else {
            throw TorchCheckpointError(file: url.path, message: "tensor '\(name)' has dtype \(e.dtype.rawValue), not a floating-point dtype")
        }
        let raw = UnsafeRawBufferPointer(rebasing: file.bytes[e.storage])
        let count = e.elementCount
        if e.isContiguous {
            let start = e.offset * e.dtype.byteSize
            let slice = UnsafeRawBufferPointer(rebasing: raw[start..<(start + count * e.dtype.byteSize)])
            return Tensor(unchecked: e.shape, storage: e.dtype.floats(from: slice, count: count)!)
        }
        // A strided view (e.g. a slice saved without .contiguous()): visit its elements in row-major order.
        var storage = [Float](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: e.shape.count)
        var position = e.offset
        for i in 0..<count {
            storage[i] = e.dtype.floatElement(raw, position)
            var axis = e.shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                position += e.strides[axis]
                if index[axis] < e.shape[axis] { break }
                position -= e.strides[axis] * e.shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return Tensor(unchecked: e.shape, storage: storage)
    }

    public func adviseDone(_ name: String) {
        if let e = entries[name] { file.adviseDone(e.storage) }
    }

    /// The (name, tensor) pairs of the state dict: the top-level dict, or its "state_dict" entry.
    private static func stateDict(_ value: PickleValue, fail: (String) -> TorchCheckpointError) throws -> [(name: String, tensor: PickleTensor)] {
        guard case var .dict(items) = value else { throw fail("holds no dict of tensors (not a state dict)") }
        if case let .dict(inner)? = value["state_dict"] { items = inner }
        var tensors: [(String, PickleTensor)] = []
        for item in items {
            guard case let .tensor(t) = item.value else { continue }
            guard let name = item.key.textValue else { throw fail("a tensor is stored under a key that is not a string") }
            tensors.append((name, t))
        }
        guard !tensors.isEmpty else { throw fail("holds no tensors (not a state dict)") }
        return tensors
    }

    /// What a file that is not a zip archive is, for the error message.
    private static func describeNonZip(_ bytes: UnsafeRawBufferPointer) -> String {
        let legacyMagic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
        let isTar = bytes.count >= 262 && Array(bytes[257..<262]) == Array("ustar".utf8)
        if bytes.starts(with: legacyMagic) || isTar {
            return "the legacy torch.save format of PyTorch < 1.6 is not supported; re-save it with a current PyTorch "
                + "(torch.save(torch.load(f), f)) or convert it to safetensors"
        }
        if bytes.starts(with: Array("PYTORCH1".utf8)) { return "an unsupported pre-release PyTorch format" }
        return "not a PyTorch checkpoint (torch.save writes a zip archive; this file does not start with one)"
    }
}

/// A PyTorch checkpoint that cannot be read; `description` is one line starting with the file path.
public struct TorchCheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    public let file: String
    public let message: String
    public var description: String { "\(file): \(message)" }
}
