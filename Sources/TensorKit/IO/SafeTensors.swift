import Foundation

// Tensor bytes are little-endian in safetensors and are copied without byte swapping.
#if _endian(big)
#error("TensorKit's safetensors support assumes a little-endian host")
#endif

/// Element types of the safetensors format (the `dtype` strings of the header).
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"
    case u16 = "U16", u32 = "U32", u64 = "U64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: 8
        case .f32, .i32, .u32: 4
        case .f16, .bf16, .i16, .u16: 2
        case .i8, .u8, .bool: 1
        }
    }

    /// Rank in the reference implementation's `Dtype` enum (declared in increasing alignment).
    /// The reference writer lays tensors out by this rank, descending, then by name.
    var referenceOrder: Int {
        switch self {
        case .bool: 0
        case .u8: 1
        case .i8: 2
        // 3, 4: F8_E5M2, F8_E4M3 (not supported here)
        case .i16: 5
        case .u16: 6
        case .f16: 7
        case .bf16: 8
        case .i32: 9
        case .u32: 10
        case .f32: 11
        case .f64: 12
        case .i64: 13
        case .u64: 14
        }
    }
}

/// One tensor described by a safetensors header.
public struct SafeTensorsEntry: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorsDType
    public let shape: [Int]
    /// Absolute byte range in the file (header included), i.e. `8 + N + data_offsets`.
    public let byteRange: Range<Int>

    /// Number of elements (1 for a rank-0 tensor).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A memory-mapped safetensors file.
///
/// The whole file is mapped read-only and private; tensor bytes are touched only when a tensor is
/// requested, and `tensor(_:)` copies them exactly once (converting to Float32 on the way). Call
/// `adviseDone(_:)` after copying a tensor to let the kernel drop its pages again, which keeps the
/// peak resident size close to the size of the converted tensors instead of tensors + file.
///
/// Immutable after `init`, hence safe to share between threads.
public final class SafeTensorsFile: TensorFile, @unchecked Sendable {
    public let url: URL
    /// The `__metadata__` object of the header (empty if absent).
    public let metadata: [String: String]
    /// Tensor names, sorted by their UTF-8 bytes.
    public var names: [String] { sortedNames }

    private let sortedNames: [String]
    private let entries: [String: SafeTensorsEntry]
    private let file: MappedFile

    /// The maximum header length accepted, as in the reference implementation.
    public static let maxHeaderLength = 100_000_000

    /// Maps the file and validates its header (see `SafeTensorsError.Kind` for what is checked).
    public init(contentsOf url: URL) throws {
        let path = url.path
        do { file = try MappedFile(url) } catch { throw SafeTensorsError(.io, file: path, error.reason) }
        let header = try SafeTensorsHeader(parsing: file.bytes, path: path)
        self.metadata = header.metadata
        self.entries = header.entries
        self.sortedNames = header.entries.keys.sorted(by: SafeTensorsHeader.byteOrder)
        self.url = url
    }

    public func entry(_ name: String) -> SafeTensorsEntry? { entries[name] }

    public func shape(of name: String) -> [Int]? { entries[name]?.shape }

    /// Reads a floating-point tensor (F32, F16, BF16 or F64) as a Float32 `Tensor`.
    public func tensor(_ name: String) throws -> Tensor {
        let e = try requireEntry(name)
        guard let storage = e.dtype.floats(from: raw(e), count: e.elementCount) else {
            throw SafeTensorsError(.wrongDType, file: url.path, tensor: name,
                                   "tensor \(SafeTensorsError.quoted(name)) has dtype \(e.dtype.rawValue), not a floating-point dtype (F32, F16, BF16, F64)")
        }
        return Tensor(unchecked: e.shape, storage: storage)
    }

    private func raw(_ e: SafeTensorsEntry) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file.bytes[e.byteRange])
    }

    /// Reads an integer tensor (I64, I32, I16, I8, U8, U16, U32, BOOL, or U64 values ≤ Int64.max)
    /// as a flat array of `Int64`.
    public func int64s(_ name: String) throws -> [Int64] {
        let e = try requireEntry(name)
        let count = e.elementCount
        let raw = raw(e)
        func widen<T: FixedWidthInteger>(_: T.Type) -> [Int64] {
            [Int64](unsafeUninitializedCapacity: count) { out, initialized in
                for i in 0..<count { out[i] = Int64(truncatingIfNeeded: raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)) }
                initialized = count
            }
        }
        switch e.dtype {
        case .i64: return widen(Int64.self)
        case .i32: return widen(Int32.self)
        case .i16: return widen(Int16.self)
        case .i8: return widen(Int8.self)
        case .u8, .bool: return widen(UInt8.self)
        case .u16: return widen(UInt16.self)
        case .u32: return widen(UInt32.self)
        case .u64:
            let values = widen(UInt64.self)
            // Truncating conversion maps values above Int64.max to negatives.
            if values.contains(where: { $0 < 0 }) {
                throw SafeTensorsError(.wrongDType, file: url.path, tensor: name,
                                       "tensor \(SafeTensorsError.quoted(name)) (U64) holds values above Int64.max")
            }
            return values
        default:
            throw SafeTensorsError(.wrongDType, file: url.path, tensor: name,
                                   "tensor \(SafeTensorsError.quoted(name)) has dtype \(e.dtype.rawValue), not an integer dtype")
        }
    }

    /// Calls `body` with the tensor's bytes, straight from the mapping (valid only during the call).
    public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        return try body(raw(try requireEntry(name)))
    }

    /// Lets the kernel drop the tensor's pages (see `MappedFile.adviseDone(_:)`). Unknown names are ignored.
    public func adviseDone(_ name: String) {
        if let e = entries[name] { file.adviseDone(e.byteRange) }
    }

    private func requireEntry(_ name: String) throws -> SafeTensorsEntry {
        guard let e = entries[name] else {
            throw SafeTensorsError(.tensorNotFound, file: url.path, tensor: name, "no tensor named \(SafeTensorsError.quoted(name))")
        }
        return e
    }
}

/// The parsed and validated header of a safetensors file.
struct SafeTensorsHeader {
    var metadata: [String: String] = [:]
    var entries: [String: SafeTensorsEntry] = [:]

    /// Tensor names are compared by their UTF-8 bytes, like the reference (Rust `String` order).
    static func byteOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    /// Validates `file` (the whole file's bytes). `path` is used in error messages.
    init(parsing file: UnsafeRawBufferPointer, path: String) throws(SafeTensorsError) {
        func fail(_ kind: SafeTensorsError.Kind, _ message: String) -> SafeTensorsError {
            SafeTensorsError(kind, file: path, message)
        }
        func failTensor(_ kind: SafeTensorsError.Kind, _ tensor: String, _ message: String) -> SafeTensorsError {
            SafeTensorsError(kind, file: path, tensor: tensor, message)
        }
        guard file.count >= 8 else {
            throw fail(.fileTooShort, "file is \(file.count) bytes, shorter than the 8-byte header length")
        }
        let declared = UInt64(littleEndian: file.loadUnaligned(as: UInt64.self))
        // Checked before anything is allocated or read past the first 8 bytes.
        guard declared <= UInt64(SafeTensorsFile.maxHeaderLength) else {
            throw fail(.headerTooLarge, "header length \(declared) exceeds the limit of \(SafeTensorsFile.maxHeaderLength) bytes")
        }
        let headerLength = Int(declared)
        guard 8 + headerLength <= file.count else {
            throw fail(.headerOutOfBounds, "header length \(headerLength) runs past the end of the \(file.count)-byte file")
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: file[8..<(8 + headerLength)])
        guard String(validating: headerBytes, as: UTF8.self) != nil else {
            throw fail(.invalidHeader, "header is not valid UTF-8")
        }
        let json: HeaderJSON
        do {
            json = try HeaderJSON.parse(headerBytes)
        } catch {
            throw fail(.invalidHeader, "header is not valid JSON: \(error.message) at byte \(8 + error.offset)")
        }
        guard case let .object(members) = json else {
            throw fail(.invalidHeader, "header is a JSON \(json.typeName), expected an object")
        }

        let dataStart = 8 + headerLength
        let dataLength = file.count - dataStart
        var sawMetadata = false
        for (name, value) in members {
            if name == "__metadata__" {
                guard !sawMetadata else { throw fail(.duplicateName, "duplicate key \"__metadata__\"") }
                sawMetadata = true
                switch value {
                case .null: break
                case let .object(pairs):
                    for (key, v) in pairs {
                        guard case let .string(s) = v else {
                            throw fail(.invalidHeader, "__metadata__ value for \(SafeTensorsError.quoted(key)) is a \(v.typeName), expected a string")
                        }
                        guard metadata.updateValue(s, forKey: key) == nil else {
                            throw fail(.duplicateName, "duplicate __metadata__ key \(SafeTensorsError.quoted(key))")
                        }
                    }
                default:
                    throw fail(.invalidHeader, "__metadata__ is a JSON \(value.typeName), expected an object")
                }
                continue
            }
            guard entries[name] == nil else { throw failTensor(.duplicateName, name, "duplicate tensor name \(SafeTensorsError.quoted(name))") }
            entries[name] = try Self.entry(name: name, value: value, dataStart: dataStart, dataLength: dataLength, fail: failTensor)
        }

        // Non-empty ranges must not overlap (gaps are tolerated; the reference writer leaves none).
        let ordered = entries.values.filter { !$0.byteRange.isEmpty }
            .sorted { ($0.byteRange.lowerBound, $0.byteRange.upperBound) < ($1.byteRange.lowerBound, $1.byteRange.upperBound) }
        for (previous, next) in zip(ordered, ordered.dropFirst()) where next.byteRange.lowerBound < previous.byteRange.upperBound {
            throw failTensor(.overlappingRanges, next.name,
                       "byte ranges of tensors \(SafeTensorsError.quoted(previous.name)) and \(SafeTensorsError.quoted(next.name)) overlap")
        }
    }

    private static func entry(name: String, value: HeaderJSON, dataStart: Int, dataLength: Int,
                              fail: (SafeTensorsError.Kind, String, String) -> SafeTensorsError) throws(SafeTensorsError) -> SafeTensorsEntry {
        let t = SafeTensorsError.quoted(name)
        guard case let .object(fields) = value else {
            throw fail(.invalidHeader, name, "tensor \(t) is described by a JSON \(value.typeName), expected an object")
        }
        func field(_ key: String) throws(SafeTensorsError) -> HeaderJSON {
            let matches = fields.filter { $0.key == key }
            guard matches.count == 1 else {
                throw fail(.invalidHeader, name, matches.isEmpty ? "tensor \(t) has no \"\(key)\"" : "tensor \(t) has \"\(key)\" twice")
            }
            return matches[0].value
        }

        guard case let .string(dtypeText) = try field("dtype") else {
            throw fail(.invalidHeader, name, "tensor \(t): \"dtype\" is not a string")
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeText) else {
            throw fail(.unsupportedDType, name, "unsupported dtype \(dtypeText) for tensor \(t)")
        }

        guard case let .array(dims) = try field("shape") else {
            throw fail(.invalidHeader, name, "tensor \(t): \"shape\" is not an array")
        }
        var shape: [Int] = []
        for d in dims {
            guard case .number = d else {
                throw fail(.invalidHeader, name, "tensor \(t): shape entry is a JSON \(d.typeName), expected an integer")
            }
            guard let n = d.integer else {
                throw fail(.invalidShape, name, "tensor \(t): shape entry \(literal(d)) is not an integer in range")
            }
            guard n >= 0 else { throw fail(.invalidShape, name, "tensor \(t): negative dimension in shape \(literalList(dims))") }
            shape.append(n)
        }
        var elementCount = 1
        for n in shape {
            let (p, overflow) = elementCount.multipliedReportingOverflow(by: n)
            guard !overflow else { throw fail(.invalidShape, name, "tensor \(t): element count of shape \(shape) overflows") }
            elementCount = p
        }
        let (byteCount, bytesOverflow) = elementCount.multipliedReportingOverflow(by: dtype.byteSize)
        guard !bytesOverflow else { throw fail(.invalidShape, name, "tensor \(t): byte count of shape \(shape) overflows") }

        guard case let .array(offsets) = try field("data_offsets"), offsets.count == 2,
              let begin = offsets[0].integer, let end = offsets[1].integer else {
            throw fail(.invalidOffsets, name, "tensor \(t): \"data_offsets\" is not an array of two integers")
        }
        guard begin >= 0, begin <= end else {
            throw fail(.invalidOffsets, name, "tensor \(t): data_offsets [\(begin), \(end)] are negative or reversed")
        }
        guard end <= dataLength else {
            throw fail(.invalidOffsets, name, "tensor \(t): data_offsets end \(end) is past the end of the \(dataLength)-byte data buffer")
        }
        guard end - begin == byteCount else {
            throw fail(.byteCountMismatch, name,
                       "tensor \(t): data_offsets span \(end - begin) bytes but shape \(shape) of \(dtype.rawValue) needs \(byteCount)")
        }
        return SafeTensorsEntry(name: name, dtype: dtype, shape: shape, byteRange: (dataStart + begin)..<(dataStart + end))
    }

    private static func literal(_ v: HeaderJSON) -> String {
        if case let .number(text) = v { return text }
        return v.typeName
    }

    private static func literalList(_ vs: [HeaderJSON]) -> String { "[" + vs.map(literal).joined(separator: ", ") + "]" }
}

