// A pickle reader that never executes anything: it interprets a fixed set of opcodes and lets a pickle name only
// the globals of one *vocabulary*, each of which is mapped by a fixed rule to an inert description.
//
// Vocabulary `.numpyArrays` (CIFAR's python batches: Python 2 cPickle protocol 2, Python 3 protocols 2–4).
// How numpy pickles an array (protocol 2; protocol 4 is the same with STACK_GLOBAL/MEMOIZE/FRAME):
//   GLOBAL numpy.core.multiarray._reconstruct        (numpy ≥ 2 writes numpy._core.multiarray)
//   (GLOBAL numpy.ndarray, (0,), b'b') REDUCE          -> an empty array placeholder
//   (1, shape, dtype, is_fortran, raw_bytes) BUILD     -> ndarray.__setstate__
// where dtype is `GLOBAL numpy.dtype ('u1', False, True) REDUCE (3, '|', None, None, None, -1, -1, 0) BUILD`.
// Python 2 writes `str` payloads with SHORT_BINSTRING/BINSTRING; Python 3 at protocol 2 writes `bytes` as
// `_codecs.encode(<latin-1 text>, 'latin1')`, at protocol ≥ 3 with SHORT_BINBYTES/BINBYTES.
//
// Vocabulary `.torchStateDict` (`data.pkl` of a torch.save zip archive; the subset `torch.load(weights_only=True)`
// needs for weights). torch.save writes protocol 2:
//   GLOBAL collections.OrderedDict, () REDUCE                        -> an empty dict (then SETITEMS)
//   GLOBAL torch._utils._rebuild_tensor_v2,
//     (('storage', GLOBAL torch.FloatStorage, '0', 'cpu', numel) BINPERSID,
//      offset, size, stride, requires_grad, OrderedDict()) REDUCE  -> a tensor view of storage record '0'
//   {'_metadata': ...} BUILD on the OrderedDict                      -> ignored (module versions)
// `torch._utils._rebuild_parameter(tensor, requires_grad, hooks)` unwraps to the tensor.
//
// Any other global, call or opcode is refused with its name and byte offset.

import Foundation

/// What a pickle may name: the allowed globals and how each is interpreted.
public enum PickleVocabulary: Sendable {
    /// numpy arrays and dtypes, and `_codecs.encode` (CIFAR python batches).
    case numpyArrays
    /// PyTorch state dicts: ordered dicts, tensors rebuilt from typed storages (persistent ids), parameters.
    case torchStateDict

    /// The only globals a pickle may reference (module.name).
    public var allowedGlobals: Set<String> {
        switch self {
        case .numpyArrays:
            ["numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype",
             "_codecs.encode"]
        case .torchStateDict:
            Set(["collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter"]
                + PickleStorage.storageTypes.keys.map { "torch." + $0 })
        }
    }
}

public enum RestrictedUnpickler {
    /// Decodes `data` into an inert value tree. `name` is used in error messages.
    /// Throws `PickleError`.
    public static func unpickle(_ data: Data, name: String = "<pickle>", vocabulary: PickleVocabulary) throws -> PickleValue {
        try data.withUnsafeBytes { raw in try unpickle(bytes: raw, name: name, vocabulary: vocabulary) }
    }

    /// Decodes the pickle in `bytes` (e.g. a memory-mapped archive member) into an inert value tree.
    /// Throws `PickleError`.
    public static func unpickle(bytes: UnsafeRawBufferPointer, name: String, vocabulary: PickleVocabulary) throws -> PickleValue {
        var machine = Machine(bytes: bytes, name: name, vocabulary: vocabulary)
        defer { machine.teardown() }
        return try machine.run()
    }

    /// Standard pickle opcode names, for error messages.
    static func opcodeName(_ op: UInt8) -> String {
        let names: [UInt8: String] = [
            0x28: "MARK", 0x2E: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT", 0x49: "INT",
            0x4A: "BININT", 0x4B: "BININT1", 0x4C: "LONG", 0x4D: "BININT2", 0x4E: "NONE", 0x50: "PERSID",
            0x51: "BINPERSID", 0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
            0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND", 0x62: "BUILD", 0x63: "GLOBAL", 0x64: "DICT",
            0x7D: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET", 0x69: "INST", 0x6A: "LONG_BINGET",
            0x6C: "LIST", 0x5D: "EMPTY_LIST", 0x6F: "OBJ", 0x70: "PUT", 0x71: "BINPUT", 0x72: "LONG_BINPUT",
            0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT",
            0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1",
            0x86: "TUPLE2", 0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8A: "LONG1", 0x8B: "LONG4",
            0x42: "BINBYTES", 0x43: "SHORT_BINBYTES", 0x8C: "SHORT_BINUNICODE", 0x8D: "BINUNICODE8",
            0x8E: "BINBYTES8", 0x8F: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX",
            0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER",
            0x98: "READONLY_BUFFER",
        ]
        return names[op] ?? "unknown"
    }
}

/// Mutable object graph used while decoding (lists and dicts are shared through the memo), converted to
/// `PickleValue` at STOP.
private final class Node {
    enum Kind {
        case none
        case bool(Bool)
        case int(Int)
        case float(Double)
        case bytes(Data)
        case unicode(Data)  // UTF-8, validated on conversion
        case list([Node])
        case tuple([Node])
        case dict([(Node, Node)])
        case global(module: String, name: String)
        case dtype(PickleDType)
        case arrayPlaceholder  // result of _reconstruct, waiting for BUILD
        case array(PickleArray)
        case storage(PickleStorage)  // a torch persistent id, only valid inside a tensor
        case tensor(PickleTensor)
    }

    var kind: Kind
    init(_ kind: Kind) { self.kind = kind }
}

private struct Machine {
    let bytes: UnsafeRawBufferPointer
    let name: String
    let vocabulary: PickleVocabulary
    var pos = 0
    var opStart = 0
    var stack: [Node] = []
    var marks: [Int] = []
    var memo: [Int: Node] = [:]
    /// Every node pushed, so `teardown()` can dismantle the graph without recursion.
    var created: [Node] = []

    init(bytes: UnsafeRawBufferPointer, name: String, vocabulary: PickleVocabulary) {
        self.bytes = bytes
        self.name = name
        self.vocabulary = vocabulary
    }

    // MARK: - Errors and raw reads

    func fail(_ reason: String) -> PickleError {
        .malformed(path: name, reason: reason, offset: opStart)
    }

    mutating func take(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= bytes.count - pos else {
            throw fail("\(RestrictedUnpickler.opcodeName(bytes[opStart])) needs \(n) bytes, "
                       + "only \(bytes.count - pos) left (truncated file?)")
        }
        defer { pos += n }
        return UnsafeRawBufferPointer(rebasing: bytes[pos ..< pos + n])
    }

    mutating func uint(_ n: Int) throws -> UInt64 {
        let b = try take(n)
        var v: UInt64 = 0
        for i in 0 ..< n { v |= UInt64(b[i]) << (8 * UInt64(i)) }
        return v
    }

    mutating func length(_ n: Int) throws -> Int {
        let v = try uint(n)
        guard v <= UInt64(bytes.count - pos) else {
            throw fail("length \(v) runs past the end of the data (\(bytes.count - pos) bytes left; truncated file?)")
        }
        return Int(v)
    }

    mutating func blob(lengthBytes n: Int) throws -> Data {
        Data(try take(try length(n)))
    }

    mutating func line() throws -> String {
        guard let nl = bytes[pos ..< min(pos + 257, bytes.count)].firstIndex(of: 0x0A) else {
            throw fail("GLOBAL name is not newline-terminated within 256 bytes")
        }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[pos ..< nl]), as: UTF8.self)
        pos = nl + 1
        return s
    }

    // MARK: - Stack

    mutating func push(_ k: Node.Kind) {
        let node = Node(k)
        created.append(node)
        stack.append(node)
    }

    /// Empties every container node while all nodes are still held by `created`, so no release cascades.
    /// Releasing a deeply nested graph (e.g. 48 KB of TUPLE1 opcodes, found by fuzzing) would otherwise
    /// recurse once per level in `deinit` and overflow the stack; cycles made through the memo are broken too.
    mutating func teardown() {
        for node in created { node.kind = .none }
        stack.removeAll()
        memo.removeAll()
        created.removeAll()
    }

    mutating func pop() throws -> Node {
        guard stack.count > (marks.last ?? 0), let top = stack.popLast() else { throw fail("stack underflow") }
        return top
    }

    func top() throws -> Node {
        guard stack.count > (marks.last ?? 0), let t = stack.last else { throw fail("stack underflow") }
        return t
    }

    mutating func popToMark() throws -> [Node] {
        guard let m = marks.popLast() else { throw fail("no MARK on the stack") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    mutating func memoPut(_ index: Int) throws {
        memo[index] = try top()
    }

    mutating func memoGet(_ index: Int) throws {
        guard let n = memo[index] else { throw fail("memo index \(index) was never stored") }
        stack.append(n)
    }

    // MARK: - Main loop

    mutating func run() throws -> PickleValue {
        while pos < bytes.count {
            opStart = pos
            let op = bytes[pos]
            pos += 1
            switch op {
            case 0x80:  // PROTO
                let v = try uint(1)
                guard v >= 2 && v <= 5 else { throw fail("unsupported pickle protocol \(v)") }
            case 0x95:  // FRAME: a length prefix only
                _ = try uint(8)
            case 0x7D: push(.dict([]))  // EMPTY_DICT
            case 0x5D: push(.list([]))  // EMPTY_LIST
            case 0x29: push(.tuple([]))  // EMPTY_TUPLE
            case 0x28: marks.append(stack.count)  // MARK
            case 0x4E: push(.none)
            case 0x88: push(.bool(true))
            case 0x89: push(.bool(false))
            case 0x4B: push(.int(Int(try uint(1))))  // BININT1
            case 0x4D: push(.int(Int(try uint(2))))  // BININT2
            case 0x4A: push(.int(Int(Int32(truncatingIfNeeded: try uint(4)))))  // BININT
            case 0x47:  // BINFLOAT: big-endian IEEE 754 double
                push(.float(Double(bitPattern: try uint(8).byteSwapped)))
            case 0x8A:  // LONG1: little-endian two's complement
                let n = try length(1)
                guard n <= 8 else { throw fail("LONG1 integer of \(n) bytes does not fit in 64 bits") }
                var v = try uint(n)
                if n > 0 && n < 8 && v & (1 << (8 * UInt64(n) - 1)) != 0 { v |= ~0 << (8 * UInt64(n)) }
                push(.int(Int(truncatingIfNeeded: v)))
            case 0x58: push(.unicode(try blob(lengthBytes: 4)))  // BINUNICODE
            case 0x8C: push(.unicode(try blob(lengthBytes: 1)))  // SHORT_BINUNICODE
            case 0x8D: push(.unicode(try blob(lengthBytes: 8)))  // BINUNICODE8
            case 0x55: push(.bytes(try blob(lengthBytes: 1)))  // SHORT_BINSTRING (Python 2 str)
            case 0x54:  // BINSTRING: signed 4-byte length
                let n = Int32(truncatingIfNeeded: try uint(4))
                guard n >= 0, Int(n) <= bytes.count - pos else {
                    throw fail("BINSTRING length \(n) is negative or runs past the end (truncated file?)")
                }
                push(.bytes(Data(try take(Int(n)))))
            case 0x43: push(.bytes(try blob(lengthBytes: 1)))  // SHORT_BINBYTES
            case 0x42: push(.bytes(try blob(lengthBytes: 4)))  // BINBYTES
            case 0x8E: push(.bytes(try blob(lengthBytes: 8)))  // BINBYTES8
            case 0x71: try memoPut(Int(try uint(1)))  // BINPUT
            case 0x72: try memoPut(Int(try uint(4)))  // LONG_BINPUT
            case 0x94: try memoPut(memo.count)  // MEMOIZE
            case 0x68: try memoGet(Int(try uint(1)))  // BINGET
            case 0x6A: try memoGet(Int(try uint(4)))  // LONG_BINGET
            case 0x63:  // GLOBAL "module\nname\n"
                let module = try line()
                let gname = try line()
                try pushGlobal(module, gname)
            case 0x93:  // STACK_GLOBAL
                let n = try pop()
                let m = try pop()
                guard case let .unicode(nb) = n.kind, case let .unicode(mb) = m.kind else {
                    throw fail("STACK_GLOBAL expects two strings")
                }
                try pushGlobal(String(decoding: mb, as: UTF8.self), String(decoding: nb, as: UTF8.self))
            case 0x74: push(.tuple(try popToMark()))  // TUPLE
            case 0x85: let a = try pop(); push(.tuple([a]))
            case 0x86: let b = try pop(); let a = try pop(); push(.tuple([a, b]))
            case 0x87: let c = try pop(); let b = try pop(); let a = try pop(); push(.tuple([a, b, c]))
            case 0x61:  // APPEND
                let v = try pop()
                try append([v], to: try top())
            case 0x65:  // APPENDS
                let items = try popToMark()
                try append(items, to: try top())
            case 0x73:  // SETITEM
                let v = try pop()
                let k = try pop()
                try setItems([k, v], in: try top())
            case 0x75:  // SETITEMS
                let items = try popToMark()
                try setItems(items, in: try top())
            case 0x52:  // REDUCE
                let args = try pop()
                let callable = try pop()
                // Registered like pushed nodes: an OrderedDict() result is a container teardown must empty.
                let result = try reduce(callable, args)
                created.append(result)
                stack.append(result)
            case 0x62:  // BUILD
                let state = try pop()
                try build(try top(), state)
            case 0x51 where vocabulary == .torchStateDict:  // BINPERSID
                let pid = try pop()
                push(.storage(try persistentStorage(pid)))
            case 0x2E:  // STOP
                let result = try pop()
                var budget = 50_000_000
                return try convert(result, depth: 0, budget: &budget)
            default:
                throw PickleError.opcodeRefused(path: name, opcode: op, name: RestrictedUnpickler.opcodeName(op), offset: opStart)
            }
        }
        throw fail("data ends without a STOP opcode (truncated file?)")
    }

    // MARK: - Opcode semantics

    mutating func pushGlobal(_ module: String, _ gname: String) throws {
        guard vocabulary.allowedGlobals.contains("\(module).\(gname)") else {
            throw PickleError.globalRefused(path: name, module: module, name: gname, offset: opStart)
        }
        push(.global(module: module, name: gname))
    }

    func append(_ items: [Node], to target: Node) throws {
        guard case var .list(existing) = target.kind else { throw fail("APPEND(S) target is not a list") }
        target.kind = .none  // release the array buffer so the append below does not copy it
        existing.append(contentsOf: items)
        target.kind = .list(existing)
    }

    func setItems(_ items: [Node], in target: Node) throws {
        guard case var .dict(existing) = target.kind else { throw fail("SETITEM(S) target is not a dict") }
        guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number of stack items") }
        target.kind = .none
        for i in stride(from: 0, to: items.count, by: 2) { existing.append((items[i], items[i + 1])) }
        target.kind = .dict(existing)
    }

    func text(_ n: Node) -> String? {
        switch n.kind {
        case let .unicode(d), let .bytes(d): return String(data: d, encoding: .utf8)
        default: return nil
        }
    }

    /// The only calls a pickle may make, each mapped to an inert result.
    func reduce(_ callable: Node, _ argsNode: Node) throws -> Node {
        guard case let .global(module, gname) = callable.kind else { throw fail("REDUCE of a non-global callable") }
        guard case let .tuple(args) = argsNode.kind else { throw fail("REDUCE arguments are not a tuple") }
        switch "\(module).\(gname)" {
        case "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct":
            guard args.count == 3, case let .global(cm, cn) = args[0].kind, cm == "numpy", cn == "ndarray" else {
                throw fail("_reconstruct must be called as _reconstruct(numpy.ndarray, shape, typecode)")
            }
            return Node(.arrayPlaceholder)
        case "numpy.dtype":
            guard let first = args.first, let descr = text(first) else {
                throw fail("numpy.dtype must be called with a type string")
            }
            guard let dtype = PickleDType(descr: descr) else {
                throw fail("numpy dtype '\(descr)' is not supported (only bool, int, uint and float)")
            }
            return Node(.dtype(dtype))
        case "_codecs.encode":
            guard args.count == 2, case let .unicode(utf8) = args[0].kind,
                  let enc = text(args[1])?.lowercased(), ["latin1", "latin-1", "iso-8859-1"].contains(enc) else {
                throw fail("_codecs.encode is only accepted as encode(<str>, 'latin1')")
            }
            return Node(.bytes(try latin1(fromUTF8: utf8)))
        case "collections.OrderedDict":
            guard args.isEmpty else { throw fail("collections.OrderedDict is only accepted as OrderedDict()") }
            return Node(.dict([]))
        case "torch._utils._rebuild_tensor_v2":
            return Node(.tensor(try rebuildTensor(args)))
        case "torch._utils._rebuild_parameter":
            // (data, requires_grad, backward_hooks): a Parameter is its tensor here.
            guard args.count == 3, case let .tensor(t) = args[0].kind else {
                throw fail("_rebuild_parameter must be called as _rebuild_parameter(tensor, requires_grad, hooks)")
            }
            try requireEmptyHooks(args[2])
            return Node(.tensor(t))
        default:
            throw fail("\(module).\(gname) may not be called")
        }
    }

    /// `('storage', torch.<Type>Storage, key, location, numel)`: a typed storage saved as archive record `data/<key>`.
    func persistentStorage(_ pid: Node) throws -> PickleStorage {
        guard case let .tuple(items) = pid.kind, items.count == 5, text(items[0]) == "storage" else {
            throw fail("persistent id is not a ('storage', type, key, location, numel) tuple")
        }
        guard case let .global(module, typeName) = items[1].kind, module == "torch",
              let dtype = PickleStorage.storageTypes[typeName] else {
            throw fail("persistent id names no torch storage type")
        }
        guard let key = text(items[2]), !key.isEmpty, key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") }) else {
            throw fail("storage key is not a plain name")
        }
        guard text(items[3]) != nil else { throw fail("storage location is not a string") }
        guard case let .int(count) = items[4].kind, count >= 0 else { throw fail("storage size is not a non-negative integer") }
        return PickleStorage(key: key, dtype: dtype, elementCount: count)
    }

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`.
    func rebuildTensor(_ args: [Node]) throws -> PickleTensor {
        guard args.count == 6 || args.count == 7, case let .storage(storage) = args[0].kind,
              case let .int(offset) = args[1].kind else {
            throw fail("_rebuild_tensor_v2 must be called with (storage, offset, size, stride, requires_grad, hooks)")
        }
        func ints(_ n: Node, _ what: String) throws -> [Int] {
            guard case let .tuple(items) = n.kind else { throw fail("tensor \(what) is not a tuple") }
            return try items.map {
                guard case let .int(v) = $0.kind, v >= 0 else { throw fail("tensor \(what) has a negative or non-integer entry") }
                return v
            }
        }
        let shape = try ints(args[2], "size"), strides = try ints(args[3], "stride")
        guard shape.count == strides.count else { throw fail("tensor size and stride differ in length") }
        guard offset >= 0 else { throw fail("tensor storage offset is negative") }
        try requireEmptyHooks(args[5])
        if args.count == 7, case .dict = args[6].kind {} else if args.count == 7, case .none = args[6].kind {} else if args.count == 7 {
            throw fail("tensor metadata is not a dict")
        }
        return PickleTensor(storage: storage, offset: offset, shape: shape, strides: strides)
    }

    /// Backward hooks are pickled as an empty `OrderedDict()`; hooks would be functions, which are never allowed.
    func requireEmptyHooks(_ n: Node) throws {
        guard case let .dict(items) = n.kind, items.isEmpty else { throw fail("tensor backward hooks are not an empty dict") }
    }

    /// Python `str.encode('latin1')` of UTF-8 text: every code point must be below 256.
    func latin1(fromUTF8 utf8: Data) throws -> Data {
        var out = Data(count: utf8.count)
        var n = 0
        var bad = false
        utf8.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
            out.withUnsafeMutableBytes { (dst: UnsafeMutableRawBufferPointer) in
                var i = 0
                while i < src.count {
                    let b = src[i]
                    if b < 0x80 {
                        dst[n] = b
                        i += 1
                    } else if (b == 0xC2 || b == 0xC3) && i + 1 < src.count && src[i + 1] & 0xC0 == 0x80 {
                        dst[n] = (b & 0x03) << 6 | (src[i + 1] & 0x3F)
                        i += 2
                    } else {
                        bad = true
                        return
                    }
                    n += 1
                }
            }
        }
        if bad { throw fail("_codecs.encode: text is not representable in latin-1") }
        out.count = n
        return out
    }

    /// `__setstate__` for the two object kinds that have one here: dtype and ndarray.
    func build(_ target: Node, _ stateNode: Node) throws {
        if case .dict = target.kind, vocabulary == .torchStateDict {
            guard case .dict = stateNode.kind else { throw fail("BUILD state of a dict is not a dict") }
            return  // an OrderedDict's instance attributes (torch's `_metadata` of module versions): not needed
        }
        guard case let .tuple(state) = stateNode.kind else { throw fail("BUILD state is not a tuple") }
        switch target.kind {
        case var .dtype(dtype):
            // (version, byteorder, subarray, names, fields, elsize, alignment, flags)
            guard state.count >= 2, let order = text(state[1]), order.count == 1,
                  let c = order.first, "<>|=".contains(c) else {
                throw fail("numpy dtype state has no byte order")
            }
            if dtype.itemSize > 1 { dtype.byteOrder = c }
            target.kind = .dtype(dtype)
        case .arrayPlaceholder:
            // (version, shape, dtype, is_fortran, data) or, from old numpy, without the version.
            let s = state.count == 5 ? Array(state.dropFirst()) : state
            guard s.count == 4 else { throw fail("ndarray state has \(state.count) items, expected 4 or 5") }
            guard case let .tuple(dims) = s[0].kind else { throw fail("ndarray shape is not a tuple") }
            var shape: [Int] = []
            var count = 1
            for d in dims {
                guard case let .int(v) = d.kind, v >= 0 else { throw fail("ndarray shape has a non-integer or negative size") }
                let (p, o) = count.multipliedReportingOverflow(by: v)
                guard !o else { throw fail("ndarray shape overflows") }
                shape.append(v)
                count = p
            }
            guard case let .dtype(dtype) = s[1].kind else { throw fail("ndarray dtype is not a numpy.dtype") }
            let fortran: Bool
            switch s[2].kind {
            case let .bool(b): fortran = b
            case let .int(v): fortran = v != 0
            default: throw fail("ndarray fortran flag is not a bool")
            }
            guard !fortran || shape.count < 2 else { throw fail("Fortran-ordered arrays are not supported") }
            let data: Data
            switch s[3].kind {
            case let .bytes(d): data = d
            case let .unicode(d): data = try latin1(fromUTF8: d)  // Python 2 str read as text
            default: throw fail("ndarray data is not a byte string (object arrays are not supported)")
            }
            let (expected, o) = count.multipliedReportingOverflow(by: dtype.itemSize)
            guard !o, expected == data.count else {
                throw fail("ndarray of shape \(shape) and dtype \(dtype.descr) needs \(o ? "too many" : String(expected)) "
                           + "bytes, data has \(data.count)")
            }
            target.kind = .array(PickleArray(shape: shape, dtype: dtype, data: data))
        default:
            throw fail("BUILD is only allowed on numpy arrays and dtypes, and on torch state dicts")
        }
    }

    /// Node graph → value tree. Shared references are expanded; `budget` bounds the expansion and `depth`
    /// catches cycles.
    func convert(_ node: Node, depth: Int, budget: inout Int) throws -> PickleValue {
        budget -= 1
        guard budget >= 0 else { throw fail("value tree too large (shared references expand to > 50M nodes)") }
        guard depth < 100 else { throw fail("value tree nested deeper than 100 levels (or cyclic)") }
        switch node.kind {
        case .none: return .none
        case let .bool(b): return .bool(b)
        case let .int(v): return .int(v)
        case let .float(v): return .float(v)
        case let .bytes(d): return .bytes(d)
        case let .unicode(d):
            guard let s = String(data: d, encoding: .utf8) else { throw fail("invalid UTF-8 in a unicode string") }
            return .string(s)
        case let .list(items): return .list(try items.map { try convert($0, depth: depth + 1, budget: &budget) })
        case let .tuple(items): return .tuple(try items.map { try convert($0, depth: depth + 1, budget: &budget) })
        case let .dict(pairs):
            return .dict(try pairs.map {
                PickleDictEntry(key: try convert($0.0, depth: depth + 1, budget: &budget),
                                value: try convert($0.1, depth: depth + 1, budget: &budget))
            })
        case let .global(m, n): return .global(module: m, name: n)
        case let .dtype(d): return .dtype(d)
        case .arrayPlaceholder: throw fail("numpy array was reconstructed but never given its state (BUILD)")
        case let .array(a): return .array(a)
        case .storage: throw fail("a torch storage outside a tensor")
        case let .tensor(t): return .tensor(t)
        }
    }
}
