// A small, strict reader of NumPy `.npy` files (and of `file.safetensors:tensor` references), for importing
// features computed elsewhere.

import Foundation
import TensorKit

/// A numeric array read from a `.npy` file or a safetensors tensor.
public struct ImportedArray: Sendable {
    public var shape: [Int]
    /// Floating-point data as Float32 (nil for integer arrays).
    public var floats: [Float]?
    /// Integer data (nil for floating-point arrays).
    public var integers: [Int64]?
    /// `F16`, `F32`, `I32`, `I64`, … (the stored type).
    public var dtype: String
    public var source: String

    public var count: Int { shape.reduce(1, *) }

    /// The array as a Float32 tensor; integer arrays are refused.
    public func tensor() throws -> Tensor {
        guard let floats else { throw FeatureCacheError(source, "holds integers (\(dtype)), expected floating-point features") }
        return Tensor(unchecked: shape, storage: floats)
    }

    /// The array as integer labels of rank 1; float arrays are refused.
    public func labels() throws -> [Int] {
        guard let integers else { throw FeatureCacheError(source, "holds \(dtype) values, expected integer labels (int32 or int64)") }
        guard shape.count == 1 else { throw FeatureCacheError(source, "labels must be 1-D, shape is \(shape)") }
        return integers.map { Int($0) }
    }

    /// Loads `path.npy`, or `path.safetensors:name` (the tensor `name` of a safetensors file).
    public static func load(_ spec: String, maxBytes: Int = NPYReader.defaultMaxBytes) throws -> ImportedArray {
        if let colon = spec.range(of: ".safetensors:", options: .backwards) {
            let path = String(spec[..<colon.lowerBound]) + ".safetensors"
            let name = String(spec[colon.upperBound...])
            let file: SafeTensorsFile
            do { file = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: path)) } catch let e as SafeTensorsError {
                throw FeatureCacheError(path, "unreadable: \(e.message)")
            }
            guard let e = file.entry(name) else {
                throw FeatureCacheError(path, "no tensor '\(name)' (it has: \(file.names.joined(separator: ", ")))")
            }
            switch e.dtype {
            case .f32, .f16, .bf16, .f64:
                return ImportedArray(shape: e.shape, floats: try file.tensor(name).storage, integers: nil, dtype: e.dtype.rawValue, source: spec)
            case .i64, .i32, .i16, .i8, .u8, .u16, .u32:
                return ImportedArray(shape: e.shape, floats: nil, integers: try file.int64s(name), dtype: e.dtype.rawValue, source: spec)
            default:
                throw FeatureCacheError(path, "tensor '\(name)' has unsupported dtype \(e.dtype.rawValue)")
            }
        }
        return try NPYReader.read(URL(fileURLWithPath: spec), maxBytes: maxBytes)
    }
}

/// `.npy` format versions 1.0, 2.0 and 3.0: magic `\x93NUMPY`, version bytes, header length (u16 for 1.x,
/// u32 for 2.x/3.x), a Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (N, D), }`,
/// then the C-order data. Accepted dtypes: `<f4`, `<f2`, `<i8`, `<i4` (`|` or `=` byte order is not
/// accepted; big-endian is refused). The data length must match the shape exactly.
public enum NPYReader {
    public static let defaultMaxBytes = 1 << 36
    public static let maxHeaderLength = 1 << 20

    public static func read(_ url: URL, maxBytes: Int = defaultMaxBytes) throws -> ImportedArray {
        let path = url.path
        func fail(_ m: String) -> FeatureCacheError { FeatureCacheError(path, m) }
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw fail("cannot read (\(FeatureCacheFiles.reason(error)))")
        }
        let bytes = [UInt8](data.prefix(12))
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw fail("not a .npy file (no \\x93NUMPY magic)")
        }
        let major = bytes[6]
        guard [1, 2, 3].contains(major), bytes[7] == 0 else { throw fail("unsupported .npy version \(bytes[6]).\(bytes[7])") }
        let headerLength: Int, headerStart: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        } else {
            guard bytes.count >= 12 else { throw fail("truncated header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        }
        guard headerLength <= maxHeaderLength else { throw fail("header length \(headerLength) exceeds \(maxHeaderLength) bytes") }
        guard headerStart + headerLength <= data.count else { throw fail("truncated header (\(headerLength) bytes declared)") }
        let headerBytes = data.subdata(in: headerStart..<(headerStart + headerLength))
        guard let header = String(data: headerBytes, encoding: major == 3 ? .utf8 : .isoLatin1) else { throw fail("header is not text") }
        let dict = try parseHeader(header, fail: fail)
        guard case let .string(descr)? = dict["descr"] else { throw fail("header has no 'descr' string") }
        guard case let .bool(fortran)? = dict["fortran_order"] else { throw fail("header has no 'fortran_order' boolean") }
        guard !fortran else { throw fail("fortran_order True is not supported (save with numpy.ascontiguousarray)") }
        guard case let .tuple(shape)? = dict["shape"] else { throw fail("header has no 'shape' tuple") }
        guard dict.count == 3 else { throw fail("header has unexpected keys (\(dict.keys.sorted().joined(separator: ", ")))") }
        let itemSize: Int
        switch descr {
        case "<f4", "<i4": itemSize = 4
        case "<f2": itemSize = 2
        case "<i8": itemSize = 8
        default: throw fail("dtype '\(descr)' is not supported (accepted: <f4, <f2, <i8, <i4)")
        }
        var count = 1
        for d in shape {
            guard d >= 0 else { throw fail("negative dimension in shape \(shape)") }
            let (p, o) = count.multipliedReportingOverflow(by: d)
            guard !o else { throw fail("shape \(shape) overflows") }
            count = p
        }
        let (byteCount, o) = count.multipliedReportingOverflow(by: itemSize)
        guard !o, byteCount <= maxBytes else { throw fail("shape \(shape) needs more than the \(maxBytes)-byte limit") }
        let dataStart = headerStart + headerLength
        guard data.count - dataStart == byteCount else {
            throw fail("data is \(data.count - dataStart) bytes, shape \(shape) of \(descr) needs \(byteCount)")
        }
        let payload = data[dataStart...]
        var result = ImportedArray(shape: shape, floats: nil, integers: nil, dtype: "", source: path)
        payload.withUnsafeBytes { raw in
            switch descr {
            case "<f4":
                result.dtype = "F32"
                result.floats = (0..<count).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) }
            case "<f2":
                result.dtype = "F16"
                result.floats = (0..<count).map { HalfFloat.floatFromF16(raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) }
            case "<i4":
                result.dtype = "I32"
                result.integers = (0..<count).map { Int64(raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
            default:
                result.dtype = "I64"
                result.integers = (0..<count).map { raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self) }
            }
        }
        return result
    }

    enum Value: Equatable {
        case string(String)
        case bool(Bool)
        case tuple([Int])
    }

    /// Parses the restricted dict literal numpy writes: string keys; values are strings, True/False or a
    /// tuple of non-negative integers. Anything else is an error.
    static func parseHeader(_ text: String, fail: (String) -> FeatureCacheError) throws -> [String: Value] {
        let s = Array(text.utf8)
        var i = 0
        func skip() { while i < s.count, s[i] == 0x20 || s[i] == 0x0A || s[i] == 0x09 || s[i] == 0x0D { i += 1 } }
        func expect(_ c: UInt8) throws {
            skip()
            guard i < s.count, s[i] == c else { throw fail("malformed header dict (expected '\(Character(UnicodeScalar(c)))' at \(i)): \(text.prefix(120))") }
            i += 1
        }
        func string() throws -> String {
            skip()
            guard i < s.count, s[i] == 0x27 || s[i] == 0x22 else { throw fail("malformed header dict (expected a quoted string at \(i))") }
            let q = s[i]
            i += 1
            let start = i
            while i < s.count, s[i] != q {
                guard s[i] != 0x5C else { throw fail("escapes are not accepted in the header") }
                i += 1
            }
            guard i < s.count else { throw fail("unterminated string in the header") }
            let out = String(decoding: s[start..<i], as: UTF8.self)
            i += 1
            return out
        }
        func integer() throws -> Int {
            skip()
            let start = i
            while i < s.count, s[i] >= 0x30, s[i] <= 0x39 { i += 1 }
            if i < s.count, s[i] == 0x4C { i += 1 }  // Python 2 long suffix
            guard i > start, let v = Int(String(decoding: s[start..<i], as: UTF8.self).replacingOccurrences(of: "L", with: "")), v <= 1 << 48 else {
                throw fail("bad dimension in the shape at \(start)")
            }
            return v
        }
        var out: [String: Value] = [:]
        try expect(0x7B)
        while true {
            skip()
            if i < s.count, s[i] == 0x7D { i += 1; break }
            let key = try string()
            try expect(0x3A)
            skip()
            guard i < s.count else { throw fail("truncated header dict") }
            let value: Value
            if s[i] == 0x27 || s[i] == 0x22 {
                value = .string(try string())
            } else if s[i] == 0x28 {
                i += 1
                var dims: [Int] = []
                while true {
                    skip()
                    if i < s.count, s[i] == 0x29 { i += 1; break }
                    dims.append(try integer())
                    skip()
                    if i < s.count, s[i] == 0x2C { i += 1 } else if i < s.count, s[i] == 0x29 { i += 1; break } else {
                        throw fail("malformed shape tuple")
                    }
                }
                guard dims.count <= 8 else { throw fail("shape has more than 8 dimensions") }
                value = .tuple(dims)
            } else if text.utf8.dropFirst(i).starts(with: "True".utf8) {
                i += 4
                value = .bool(true)
            } else if text.utf8.dropFirst(i).starts(with: "False".utf8) {
                i += 5
                value = .bool(false)
            } else {
                throw fail("unsupported value for '\(key)' in the header")
            }
            guard out.updateValue(value, forKey: key) == nil else { throw fail("duplicate key '\(key)' in the header") }
            skip()
            if i < s.count, s[i] == 0x2C { i += 1; continue }
            try expect(0x7D)
            break
        }
        skip()
        guard i == s.count else { throw fail("unexpected text after the header dict") }
        return out
    }
}

/// Writing `.npy` files (version 1.0), used by tests and for exporting.
public enum NPYWriter {
    public static func data(shape: [Int], descr: String, payload: Data) -> Data {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let n = UInt16(header.utf8.count)
        out.append(contentsOf: [UInt8(n & 0xFF), UInt8(n >> 8)])
        out.append(contentsOf: Array(header.utf8))
        out.append(payload)
        return out
    }

    public static func data(_ t: Tensor) -> Data {
        data(shape: t.shape, descr: "<f4", payload: t.storage.withUnsafeBytes { Data($0) })
    }

    public static func data(labels: [Int64]) -> Data {
        data(shape: [labels.count], descr: "<i8", payload: labels.withUnsafeBytes { Data($0) })
    }
}
