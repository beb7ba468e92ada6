// The inert value tree produced by `RestrictedUnpickler`: plain data, never code.

import Foundation

/// A value decoded from a pickle. Python 2 `str` and Python 3 `bytes` both become `.bytes`;
/// Python `unicode`/`str` becomes `.string`. numpy arrays and dtypes are described, not constructed.
public indirect enum PickleValue: Sendable, Equatable {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case bytes(Data)
    case string(String)
    case list([PickleValue])
    case tuple([PickleValue])
    /// Insertion-ordered key/value pairs.
    case dict([PickleDictEntry])
    /// A reference to an allowlisted global that was never called (e.g. `numpy.ndarray`).
    case global(module: String, name: String)
    case dtype(PickleDType)
    case array(PickleArray)
    /// A torch tensor: a view into a storage record of the checkpoint archive (not read here).
    case tensor(PickleTensor)

    /// Dict lookup by a key written either as unicode (`.string`) or as Python 2 str / bytes (`.bytes`, UTF-8).
    public subscript(key: String) -> PickleValue? {
        guard case let .dict(entries) = self else { return nil }
        let utf8 = Data(key.utf8)
        for e in entries {
            switch e.key {
            case let .string(s) where s == key: return e.value
            case let .bytes(b) where b == utf8: return e.value
            default: continue
            }
        }
        return nil
    }

    public var intValue: Int? {
        switch self {
        case let .int(v): return v
        case let .bool(b): return b ? 1 : 0
        default: return nil
        }
    }

    /// `.string`, or `.bytes` decoded as UTF-8 (Python 2 str).
    public var textValue: String? {
        switch self {
        case let .string(s): return s
        case let .bytes(b): return String(data: b, encoding: .utf8)
        default: return nil
        }
    }

    /// Elements of a list or tuple.
    public var elements: [PickleValue]? {
        switch self {
        case let .list(v), let .tuple(v): return v
        default: return nil
        }
    }

    /// A list/tuple of ints, or a 1-D integer array, as `[Int]`.
    public var intList: [Int]? {
        if case let .array(a) = self { return a.shape.count == 1 ? a.integerElements() : nil }
        guard let items = elements else { return nil }
        var out: [Int] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let v = item.intValue else { return nil }
            out.append(v)
        }
        return out
    }

    /// A list/tuple of strings (unicode or UTF-8 bytes).
    public var textList: [String]? {
        guard let items = elements else { return nil }
        var out: [String] = []
        for item in items {
            guard let s = item.textValue else { return nil }
            out.append(s)
        }
        return out
    }
}

public struct PickleDictEntry: Sendable, Equatable {
    public var key: PickleValue
    public var value: PickleValue
    public init(key: PickleValue, value: PickleValue) {
        self.key = key
        self.value = value
    }
}

/// A numpy dtype limited to fixed-size numbers: kind `b` (bool), `i`, `u`, `f`.
public struct PickleDType: Sendable, Equatable {
    /// Kind character: "b", "i", "u" or "f".
    public var kind: Character
    /// Bytes per element (1, 2, 4 or 8).
    public var itemSize: Int
    /// "<" little, ">" big, "|" not applicable, "=" native.
    public var byteOrder: Character

    /// Parses a numpy type string such as `u1`, `<i8`, `|b1`, `f4`.
    public init?(descr: String) {
        var chars = Array(descr)
        var order: Character = "="
        if let first = chars.first, "<>|=".contains(first) {
            order = first
            chars.removeFirst()
        }
        guard chars.count >= 2, let size = Int(String(chars[1...])), "biuf".contains(chars[0]),
              [1, 2, 4, 8].contains(size), chars[0] != "f" || size >= 2 else { return nil }
        kind = chars[0]
        itemSize = size
        byteOrder = size == 1 ? "|" : order
    }

    public var descr: String { "\(byteOrder)\(kind)\(itemSize)" }
}

/// A numpy ndarray as stored in a pickle: shape, dtype and the raw C-order element bytes.
public struct PickleArray: Sendable, Equatable {
    public var shape: [Int]
    public var dtype: PickleDType
    /// The element bytes in C (row-major) order; `count == shape.product × dtype.itemSize`.
    public var data: Data

    public init(shape: [Int], dtype: PickleDType, data: Data) {
        self.shape = shape
        self.dtype = dtype
        self.data = data
    }

    public var elementCount: Int { shape.reduce(1, *) }

    /// The elements as `Int` for bool/integer dtypes stored little-endian (or single-byte); nil otherwise.
    public func integerElements() -> [Int]? {
        guard dtype.kind != "f", dtype.byteOrder != ">" else { return nil }
        let size = dtype.itemSize
        let signed = dtype.kind == "i"
        return data.withUnsafeBytes { raw -> [Int] in
            (0 ..< elementCount).map { i in
                var v: UInt64 = 0
                for k in 0 ..< size { v |= UInt64(raw[i * size + k]) << (8 * UInt64(k)) }
                if signed && size < 8 && v & (1 << (8 * UInt64(size) - 1)) != 0 {
                    v |= ~0 << (8 * UInt64(size))  // sign-extend
                }
                return Int(truncatingIfNeeded: v)
            }
        }
    }
}

/// A torch typed storage as a checkpoint's pickle names it: archive record `data/<key>` holding `elementCount`
/// elements of `dtype`.
public struct PickleStorage: Sendable, Equatable {
    public var key: String
    public var dtype: SafeTensorsDType
    public var elementCount: Int

    /// The storage classes of `torch` a state dict may name (`torch.FloatStorage`, ...) and their element types.
    public static let storageTypes: [String: SafeTensorsDType] = [
        "FloatStorage": .f32, "DoubleStorage": .f64, "HalfStorage": .f16, "BFloat16Storage": .bf16,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8, "ByteStorage": .u8,
        "BoolStorage": .bool,
    ]
}

/// A torch tensor as `_rebuild_tensor_v2` describes it: `shape` and `strides` (in elements) of a view that starts
/// `offset` elements into `storage`. Checked against the storage by the checkpoint reader, not here.
public struct PickleTensor: Sendable, Equatable {
    public var storage: PickleStorage
    public var offset: Int
    public var shape: [Int]
    public var strides: [Int]
}
