import Foundation
import Testing
import TestSupport
@testable import TensorKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fresh directory under the system temp dir, removed by `cleanUp()`.
private struct ScratchDirectory {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("tensorio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> URL { url.appendingPathComponent(name) }
    func contents() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: url.path).sorted() }
    func cleanUp() {
        _ = chmod(url.path, 0o755)
        try? FileManager.default.removeItem(at: url)
    }
}

/// Little-endian bytes of fixed-width values.
private func leBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
}
private func leBytes(_ values: [Float]) -> [UInt8] { leBytes(values.map(\.bitPattern)) }
private func leBytes(_ values: [Double]) -> [UInt8] { leBytes(values.map(\.bitPattern)) }

/// A file built by hand: length prefix, the header text padded with `padding` spaces, then `data`.
private func handMadeFile(header: String, padding: Int = 0, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    let json = Array(header.utf8) + Array(repeating: UInt8(ascii: " "), count: padding)
    return leBytes([declaredLength ?? UInt64(json.count)]) + json + data
}

private func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = hex.makeIterator()
    while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
    return out
}

@Suite struct SafeTensorsReadTests {
    /// A file written byte by byte here, independent of `SafeTensorsWriter`: mixed dtypes, metadata,
    /// keys in no particular order, padding that is not a multiple of 8.
    @Test func readsHandMadeFile() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        let header = #"{"b":{"dtype":"F16","shape":[2,1],"data_offsets":[16,20]},"__metadata__":{"format":"pt"},"#
            + #""a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"c":{"dtype":"BF16","shape":[],"data_offsets":[20,22]},"#
            + #""d":{"dtype":"I64","shape":[2],"data_offsets":[24,40]},"e":{"dtype":"F64","shape":[1],"data_offsets":[40,48]},"#
            + #""z":{"dtype":"F32","shape":[0,4],"data_offsets":[48,48]}}"#
        var data = leBytes([Float(1.5), -2, 0.25, 1e-3])   // a
        data += leBytes([UInt16(0x3C00), 0xC000])           // b: 1.0, -2.0 in F16
        data += leBytes([UInt16(0x4049)])                    // c: 3.140625 in BF16
        data += [0, 0]                                       // gap before d (tolerated)
        data += leBytes([Int64(-5), Int64.max])             // d
        data += leBytes([Double(0.1)])                       // e
        let url = dir.file("hand.safetensors")
        // Pad so that 8 + N is odd: the 16-bit tensors then sit at odd addresses (unaligned path).
        let padding = header.utf8.count % 2 == 0 ? 3 : 2
        try Data(handMadeFile(header: header, padding: padding, data: data)).write(to: url)

        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.names == ["a", "b", "c", "d", "e", "z"])
        #expect(file.metadata == ["format": "pt"])
        #expect(try file.tensor("a") == Tensor(unchecked: [2, 2], storage: [1.5, -2, 0.25, 1e-3]))
        #expect(try file.tensor("b") == Tensor(unchecked: [2, 1], storage: [1, -2]))
        #expect(try file.tensor("c") == Tensor(scalar: 3.140625))
        #expect(try file.int64s("d") == [-5, Int64.max])
        #expect(try file.tensor("e") == Tensor(unchecked: [1], storage: [Float(0.1)]))
        #expect(try file.tensor("z") == Tensor(unchecked: [0, 4], storage: []))
        let headerLength = header.utf8.count + padding
        #expect(file.entry("b") == SafeTensorsEntry(name: "b", dtype: .f16, shape: [2, 1],
                                                    byteRange: (8 + headerLength + 16)..<(8 + headerLength + 20)))
        #expect((8 + headerLength) % 2 == 1)
        try file.withRawBytes("c") { #expect(Array($0) == [0x49, 0x40]) }
        // Pages given back to the kernel are simply read again.
        file.adviseDone("a")
        #expect(try file.tensor("a").storage == [1.5, -2, 0.25, 1e-3])
    }

    /// Bytes written by the reference implementation (Python `safetensors`, `safetensors.numpy.save_file`; made by
    /// tools/make_reference_vectors.py → Tests/Fixtures/reference/reference.safetensors) for
    /// `{"w": f32 [[1,-2,0.5],[3,0.25,-0.125]], "h": f16 [1,-2,65504], "ids": i64 [3,-1,2^53+1],
    ///   "s": f32 scalar 2.5, "e": f32 zeros(0,3), "b": u8 [1,0,1], "i32": i32 [-7,8]}`
    /// with metadata `{"format": "pt", "a": "x\"y\né"}`.
    static let referenceFile: [UInt8] = {
        [UInt8](try! Data(contentsOf: TestSupport.fixtures.appendingPathComponent("reference/reference.safetensors")))
    }()

    @Test func readsReferenceFile() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        let url = dir.file("reference.safetensors")
        try Data(Self.referenceFile).write(to: url)
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.names == ["b", "e", "h", "i32", "ids", "s", "w"])
        #expect(file.metadata == ["format": "pt", "a": "x\"y\né"])
        #expect(try file.tensor("w") == Tensor(unchecked: [2, 3], storage: [1, -2, 0.5, 3, 0.25, -0.125]))
        #expect(try file.tensor("h") == Tensor(unchecked: [3], storage: [1, -2, 65504]))
        #expect(try file.int64s("ids") == [3, -1, 9_007_199_254_740_993])
        #expect(try file.tensor("s") == Tensor(scalar: 2.5))
        #expect(try file.tensor("e").shape == [0, 3])
        #expect(try file.int64s("b") == [1, 0, 1])
        #expect(try file.int64s("i32") == [-7, 8])
    }
}

@Suite struct SafeTensorsWriteTests {
    @Test func writerReproducesReferenceBytes() throws {
        var w = SafeTensorsWriter()
        w.metadata = ["format": "pt", "a": "x\"y\né"]
        // Added in a different order from the layout on purpose.
        try w.add("s", Tensor(scalar: 2.5))
        try w.add("b", rawBytes: [1, 0, 1], dtype: .u8, shape: [3])
        try w.add("h", Tensor([1, -2, 65504]), as: .f16)
        try w.add("w", Tensor(unchecked: [2, 3], storage: [1, -2, 0.5, 3, 0.25, -0.125]))
        try w.add("ids", int64s: [3, -1, 9_007_199_254_740_993], shape: [3])
        try w.add("e", Tensor(zeros: [0, 3]))
        try w.add("i32", rawBytes: leBytes([Int32(-7), 8]), dtype: .i32, shape: [2])
        #expect(Array(try w.data()) == SafeTensorsReadTests.referenceFile)
    }

    /// The reference implementation's own serialization test: one F32 tensor "attn.0", shape
    /// [1, 2, 3], values 0…5. Its header is exactly 64 bytes, so no padding.
    @Test func writerMatchesReferenceSingleTensorExample() throws {
        var w = SafeTensorsWriter()
        try w.add("attn.0", Tensor(unchecked: [1, 2, 3], storage: [0, 1, 2, 3, 4, 5]))
        let header = #"{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}"#
        #expect(header.utf8.count == 64)
        #expect(Array(try w.data()) == handMadeFile(header: header, data: leBytes([Float(0), 1, 2, 3, 4, 5])))

        // And an empty file: "{}" padded to 8.
        #expect(Array(try SafeTensorsWriter().data()) == handMadeFile(header: "{}", padding: 6))
    }

    @Test func roundTrip() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        var rng = RandomGenerator(seed: 3)
        let f32 = Tensor.normal(shape: [3, 5], using: &rng)
        let halfExact = Tensor(unchecked: [2, 3], storage: [1, -2, 0.5, 65504, 0x1p-24, -0.0])
        let bf16Exact = Tensor(unchecked: [4], storage: [1, -2, 3.140625, 1e30.bf16Rounded])
        let rounded = Tensor.normal(shape: [64], using: &rng)

        var w = SafeTensorsWriter()
        w.metadata = ["epoch": "3", "ünïcode": "✓"]
        try w.add("f32", f32)
        try w.add("f16", halfExact, as: .f16)
        try w.add("bf16", bf16Exact, as: .bf16)
        try w.add("f16.rounded", rounded, as: .f16)
        try w.add("bf16.rounded", rounded, as: .bf16)
        try w.add("ids", int64s: [0, -1, .min, .max], shape: [2, 2])
        try w.add("scalar", Tensor(scalar: -7.25))
        try w.add("empty", Tensor(zeros: [2, 0, 3]))
        try w.add("mask", rawBytes: [1, 0, 0, 1], dtype: .bool, shape: [4])
        let url = dir.file("rt.safetensors")
        try w.write(to: url)

        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.metadata == ["epoch": "3", "ünïcode": "✓"])
        #expect(file.names == ["bf16", "bf16.rounded", "empty", "f16", "f16.rounded", "f32", "ids", "mask", "scalar"])
        #expect(try file.tensor("f32") == f32)
        #expect(try file.tensor("f16") == halfExact)
        #expect(try file.tensor("f16").storage[5].sign == .minus)
        #expect(try file.tensor("bf16") == bf16Exact)
        #expect(try file.tensor("f16.rounded").storage == rounded.storage.map { HalfFloat.floatFromF16(HalfFloat.f16FromFloat($0)) })
        #expect(try file.tensor("bf16.rounded").storage == rounded.storage.map { HalfFloat.floatFromBF16(HalfFloat.bf16FromFloat($0)) })
        #expect(try file.int64s("ids") == [0, -1, .min, .max])
        #expect(file.entry("ids")?.shape == [2, 2])
        #expect(try file.tensor("scalar") == Tensor(scalar: -7.25))
        #expect(file.entry("scalar")?.shape == [])
        #expect(try file.tensor("empty") == Tensor(unchecked: [2, 0, 3], storage: []))
        #expect(file.entry("mask")?.dtype == .bool)
        #expect(try file.int64s("mask") == [1, 0, 0, 1])
        // Layout: 8-aligned data start, tensors by dtype size (I64, F32, BF16, F16, BOOL), then name.
        #expect(try dir.contents() == ["rt.safetensors"])
        let order = file.names.compactMap(file.entry).filter { !$0.byteRange.isEmpty }
            .sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }.map(\.name)
        #expect(order == ["ids", "f32", "scalar", "bf16", "bf16.rounded", "f16", "f16.rounded", "mask"])
        #expect(file.names.compactMap(file.entry).allSatisfy { $0.byteRange.lowerBound % 8 == 0 || $0.dtype.byteSize < 8 })
    }

    @Test func writerIsByteDeterministic() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        func build(reversed: Bool) throws -> SafeTensorsWriter {
            var rng = RandomGenerator(seed: 99)
            var items: [(String, Tensor, SafeTensorsDType)] = []
            for i in 0..<20 {
                items.append(("layer.\(i).weight", Tensor.normal(shape: [3, i + 1], using: &rng), [.f32, .f16, .bf16][i % 3]))
            }
            if reversed { items.reverse() }
            var w = SafeTensorsWriter()
            for (k, v) in ["z": "1", "a": "2", "m": "3"] { w.metadata[k] = v }
            for (name, t, dtype) in items { try w.add(name, t, as: dtype) }
            return w
        }
        let a = try build(reversed: false)
        try a.write(to: dir.file("1.safetensors"))
        try a.write(to: dir.file("2.safetensors"))
        try build(reversed: true).write(to: dir.file("3.safetensors"))
        let one = try Data(contentsOf: dir.file("1.safetensors"))
        #expect(one == (try Data(contentsOf: dir.file("2.safetensors"))))
        #expect(one == (try Data(contentsOf: dir.file("3.safetensors"))))
        #expect(one == (try a.data()))
        #expect(try dir.contents() == ["1.safetensors", "2.safetensors", "3.safetensors"])
    }

    @Test func writerRejectsBadInput() throws {
        var w = SafeTensorsWriter()
        try w.add("x", Tensor([1]))
        #expect(throws: SafeTensorsError.self) { try w.add("x", Tensor([2])) }
        #expect(throws: SafeTensorsError.self) { try w.add("__metadata__", Tensor([2])) }
        #expect(throws: SafeTensorsError.self) { try w.add("y", Tensor([2]), as: .i32) }
        #expect(throws: SafeTensorsError.self) { try w.add("y", int64s: [1, 2, 3], shape: [2]) }
        #expect(throws: SafeTensorsError.self) { try w.add("y", rawBytes: [1, 2, 3], dtype: .f16, shape: [1]) }
        #expect(throws: SafeTensorsError.self) { try w.add("y", rawBytes: [1, 2], dtype: .f16, shape: [-1]) }
    }

    // MARK: Atomic write

    @Test func overwriteLeavesNoTemporaryFile() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        let url = dir.file("m.safetensors")
        var w = SafeTensorsWriter()
        try w.add("a", Tensor([1, 2]))
        try w.write(to: url)
        try w.add("b", Tensor([3]))
        try w.write(to: url)
        #expect(try dir.contents() == ["m.safetensors"])
        #expect(try SafeTensorsFile(contentsOf: url).names == ["a", "b"])
    }

    @Test func failureBeforeRenameKeepsOldFile() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        let url = dir.file("m.safetensors")
        var old = SafeTensorsWriter()
        try old.add("old", Tensor([1]))
        try old.write(to: url)
        let oldBytes = try Data(contentsOf: url)

        struct Injected: Error {}
        var new = SafeTensorsWriter()
        try new.add("new", Tensor(zeros: [1000]))
        #expect(throws: Injected.self) {
            try new.write(to: url, beforeRename: {
                // The temporary file is complete at this point and sits next to the target.
                #expect(try dir.contents().count == 2)
                throw Injected()
            })
        }
        #expect(try Data(contentsOf: url) == oldBytes)
        #expect(try dir.contents() == ["m.safetensors"])
    }

    @Test func writingOverADirectoryFailsCleanly() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        let target = dir.file("taken")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
        var w = SafeTensorsWriter()
        try w.add("a", Tensor([1]))
        do {
            try w.write(to: target)
            Issue.record("expected an error")
        } catch let error as SafeTensorsError {
            #expect(error.kind == .io)
            #expect(error.description.contains(target.path))
        }
        #expect(try dir.contents() == ["taken"])
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: target.path, isDirectory: &isDirectory) && isDirectory.boolValue)
    }

    @Test func writingIntoMissingDirectoryFails() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        let url = dir.file("no/such/dir/m.safetensors")
        var w = SafeTensorsWriter()
        try w.add("a", Tensor([1]))
        do {
            try w.write(to: url)
            Issue.record("expected an error")
        } catch let error as SafeTensorsError {
            #expect(error.kind == .io)
            #expect(error.description.contains(url.path))
        }
        #expect(try dir.contents().isEmpty)
    }

    /// A read-only directory stops the write and keeps the old file. Root ignores directory
    /// permissions, so the test only runs as an ordinary user; `readOnlyFileSystemFails` covers root.
    @Test(.enabled(if: geteuid() != 0, "root bypasses directory permissions"))
    func readOnlyDirectoryFailsCleanly() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        let url = dir.file("m.safetensors")
        var w = SafeTensorsWriter()
        try w.add("a", Tensor([1]))
        try w.write(to: url)
        let before = try Data(contentsOf: url)
        #expect(chmod(dir.url.path, 0o555) == 0)
        try w.add("b", Tensor([2]))
        #expect(throws: SafeTensorsError.self) { try w.write(to: url) }
        _ = chmod(dir.url.path, 0o755)
        #expect(try Data(contentsOf: url) == before)
        #expect(try dir.contents() == ["m.safetensors"])
    }

    #if os(Linux)
    /// /proc refuses new files even for root.
    @Test func readOnlyFileSystemFails() throws {
        var w = SafeTensorsWriter()
        try w.add("a", Tensor([1]))
        let url = URL(fileURLWithPath: "/proc/tensorio-test.safetensors")
        do {
            try w.write(to: url)
            Issue.record("expected an error")
        } catch let error as SafeTensorsError {
            #expect(error.kind == .io)
            #expect(error.description.hasPrefix(url.path))
        }
    }
    #endif
}

@Suite struct SafeTensorsValidationTests {
    /// Writes `bytes` to a file, opens it, and checks the error kind, that the message names the
    /// file, and that it contains `fragment`.
    private func expectFailure(_ kind: SafeTensorsError.Kind, _ bytes: [UInt8], mentions fragment: String? = nil,
                               sourceLocation: SourceLocation = #_sourceLocation) throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        let url = dir.file("corrupt.safetensors")
        try Data(bytes).write(to: url)
        do {
            _ = try SafeTensorsFile(contentsOf: url)
            Issue.record("expected \(kind) error", sourceLocation: sourceLocation)
        } catch let error as SafeTensorsError {
            #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.hasPrefix(url.path + ": "), sourceLocation: sourceLocation)
            #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
            if let fragment {
                #expect(error.description.contains(fragment), "\(error)", sourceLocation: sourceLocation)
            }
        }
    }

    private func entry(_ name: String = "t", dtype: String = "F32", shape: String = "[2]", offsets: String = "[0,8]") -> String {
        #""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":\#(offsets)}"#
    }

    private let eightBytes = [UInt8](repeating: 0, count: 8)

    @Test func validFileForTheseFixtures() throws {
        // The fixture used below, unmodified, opens fine.
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        try Data(handMadeFile(header: "{\(entry())}", data: eightBytes)).write(to: dir.file("ok"))
        #expect(try SafeTensorsFile(contentsOf: dir.file("ok")).names == ["t"])
    }

    @Test func fileTooShort() throws {
        try expectFailure(.fileTooShort, [1, 2, 3, 4, 5])
        try expectFailure(.fileTooShort, [])
    }

    @Test func headerLengthPastEnd() throws {
        try expectFailure(.headerOutOfBounds, handMadeFile(header: "{}", declaredLength: 3))
        try expectFailure(.headerOutOfBounds, leBytes([UInt64(1_000)]) + Array("{}".utf8))
    }

    @Test func headerTooLarge() throws {
        try expectFailure(.headerTooLarge, leBytes([UInt64(100_000_001)]) + Array("{}".utf8))
        try expectFailure(.headerTooLarge, leBytes([UInt64.max]))
    }

    @Test func invalidUTF8() throws {
        try expectFailure(.invalidHeader, leBytes([UInt64(4)]) + [0x7B, 0xFF, 0xFE, 0x7D], mentions: "UTF-8")
    }

    @Test func invalidJSON() throws {
        for header in [#"{"t":"#, "", "   ", #"{"t":{"dtype":"F32",}}"#, "{} x", "[1,2", #"{"t":01}"#, "{\"a\":\"\u{01}\"}"] {
            try expectFailure(.invalidHeader, handMadeFile(header: header), mentions: "JSON")
        }
    }

    @Test func wrongJSONTypes() throws {
        let cases = [
            "[]",
            #"{"t":"F32"}"#,
            #"{"t":{"dtype":32,"shape":[2],"data_offsets":[0,8]}}"#,
            #"{"t":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}"#,
            #"{"t":{"dtype":"F32","shape":[true],"data_offsets":[0,8]}}"#,
            #"{"t":{"shape":[2],"data_offsets":[0,8]}}"#,
            #"{"__metadata__":{"format":1}}"#,
            #"{"__metadata__":["pt"]}"#,
        ]
        for header in cases {
            try expectFailure(.invalidHeader, handMadeFile(header: header, data: eightBytes))
        }
    }

    @Test func unsupportedDType() throws {
        try expectFailure(.unsupportedDType, handMadeFile(header: "{\(entry("w", dtype: "F8_E4M3", shape: "[8]"))}", data: eightBytes),
                          mentions: #"unsupported dtype F8_E4M3 for tensor "w""#)
    }

    @Test func invalidShape() throws {
        try expectFailure(.invalidShape, handMadeFile(header: "{\(entry(shape: "[-2]"))}", data: eightBytes), mentions: "\"t\"")
        try expectFailure(.invalidShape, handMadeFile(header: "{\(entry(shape: "[4294967296,4294967296]"))}", data: eightBytes), mentions: "overflows")
        // Element count fits, byte count (× 4) does not.
        try expectFailure(.invalidShape, handMadeFile(header: "{\(entry(shape: "[4611686018427387904]"))}", data: eightBytes), mentions: "overflows")
        try expectFailure(.invalidShape, handMadeFile(header: "{\(entry(shape: "[2.5]"))}", data: eightBytes))
        try expectFailure(.invalidShape, handMadeFile(header: "{\(entry(shape: "[99999999999999999999]"))}", data: eightBytes))
    }

    @Test func invalidOffsets() throws {
        for offsets in ["[0]", "[0,8,8]", #"[0,"8"]"#, "[0,8.0]", "{}", "[-8,0]", "[0,18446744073709551616]"] {
            try expectFailure(.invalidOffsets, handMadeFile(header: "{\(entry(offsets: offsets))}", data: eightBytes), mentions: "\"t\"")
        }
        try expectFailure(.invalidOffsets, handMadeFile(header: "{\(entry(offsets: "[8,0]"))}", data: eightBytes), mentions: "reversed")
        try expectFailure(.invalidOffsets, handMadeFile(header: "{\(entry(offsets: "[4,12]"))}", data: eightBytes), mentions: "past the end")
    }

    @Test func byteCountMismatch() throws {
        try expectFailure(.byteCountMismatch, handMadeFile(header: "{\(entry(shape: "[3]"))}", data: eightBytes + eightBytes), mentions: "\"t\"")
        try expectFailure(.byteCountMismatch, handMadeFile(header: "{\(entry(dtype: "F16"))}", data: eightBytes), mentions: "\"t\"")
    }

    @Test func overlappingRanges() throws {
        let header = "{\(entry("a", offsets: "[0,8]")),\(entry("b", offsets: "[4,12]"))}"
        try expectFailure(.overlappingRanges, handMadeFile(header: header, data: eightBytes + eightBytes), mentions: #""a" and "b""#)
        // Empty tensors may sit anywhere, even inside another tensor's range.
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        let ok = "{\(entry("a", offsets: "[0,8]")),\(entry("e", shape: "[0]", offsets: "[4,4]"))}"
        try Data(handMadeFile(header: ok, data: eightBytes)).write(to: dir.file("ok"))
        #expect(try SafeTensorsFile(contentsOf: dir.file("ok")).names == ["a", "e"])
    }

    @Test func duplicateNames() throws {
        let header = "{\(entry("a", offsets: "[0,8]")),\(entry("a", offsets: "[8,16]"))}"
        try expectFailure(.duplicateName, handMadeFile(header: header, data: eightBytes + eightBytes), mentions: #""a""#)
        try expectFailure(.duplicateName, handMadeFile(header: #"{"__metadata__":{},"__metadata__":{}}"#))
    }

    @Test func accessorErrors() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        let url = dir.file("ids.safetensors")
        var w = SafeTensorsWriter()
        try w.add("ids", int64s: [1, 2], shape: [2])
        try w.add("x", Tensor([1]))
        try w.write(to: url)
        let file = try SafeTensorsFile(contentsOf: url)
        func check(_ kind: SafeTensorsError.Kind, _ fragment: String, _ body: () throws -> Void) {
            do {
                try body()
                Issue.record("expected \(kind)")
            } catch let error as SafeTensorsError {
                #expect(error.kind == kind)
                #expect(error.description.hasPrefix(url.path + ": "))
                #expect(error.description.contains(fragment), "\(error)")
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
        check(.wrongDType, "I64") { _ = try file.tensor("ids") }
        check(.wrongDType, "F32") { _ = try file.int64s("x") }
        check(.tensorNotFound, #""missing""#) { _ = try file.tensor("missing") }
        check(.tensorNotFound, #""missing""#) { _ = try file.int64s("missing") }
        check(.tensorNotFound, #""missing""#) { _ = try file.withRawBytes("missing") { $0.count } }
        #expect(file.entry("missing") == nil)
        file.adviseDone("missing") // ignored
    }

    @Test func openingMissingFileOrDirectoryFails() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        for url in [dir.file("absent.safetensors"), dir.url] {
            do {
                _ = try SafeTensorsFile(contentsOf: url)
                Issue.record("expected an error")
            } catch let error as SafeTensorsError {
                #expect(error.kind == .io)
                #expect(error.description.hasPrefix(url.path))
            }
        }
    }
}

extension Double {
    /// The value rounded to BF16, as a Float.
    fileprivate var bf16Rounded: Float { HalfFloat.floatFromBF16(HalfFloat.bf16FromFloat(Float(self))) }
}
