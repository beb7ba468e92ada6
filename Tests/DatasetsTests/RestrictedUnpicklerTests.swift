import Foundation
import Testing
import TensorKit
@testable import Datasets

/// Byte-level pickle writer for hand-made test inputs.
private struct PickleBytes {
    var data = Data()
    mutating func op(_ code: UInt8, _ args: [UInt8] = []) { data.append(code); data.append(contentsOf: args) }
    mutating func raw(_ s: String) { data.append(contentsOf: Array(s.utf8)) }
    static func le(_ v: Int, _ n: Int) -> [UInt8] { (0 ..< n).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    mutating func unicode(_ s: String) { op(0x58, Self.le(s.utf8.count, 4)); raw(s) }
    mutating func shortBinString(_ s: String) { op(0x55, [UInt8(s.utf8.count)]); raw(s) }
    mutating func global(_ module: String, _ name: String) { op(0x63); raw("\(module)\n\(name)\n") }
}

@Suite struct RestrictedUnpicklerTests {
    @Test func refusesOsSystemViaGlobalAndReduce() throws {
        // Equivalent of pickle.dumps(os.system('ls')) at protocol 2.
        var p = PickleBytes()
        p.op(0x80, [2])
        p.global("os", "system")
        p.unicode("ls")
        p.op(0x85)
        p.op(0x52)
        p.op(0x2E)
        let error = #expect(throws: PickleError.self) { try RestrictedUnpickler.unpickle(p.data, name: "evil.pkl", vocabulary: .numpyArrays) }
        #expect(error == .globalRefused(path: "evil.pkl", module: "os", name: "system", offset: 2))
        #expect(error?.description == "evil.pkl: pickle global os.system at byte 2 is not allowed")
    }

    @Test func refusesStackGlobalOutsideAllowlist() throws {
        var p = PickleBytes()
        p.op(0x80, [4])
        p.op(0x8C, [8]); p.raw("builtins")
        p.op(0x8C, [4]); p.raw("eval")
        p.op(0x93)
        p.op(0x2E)
        let error = #expect(throws: PickleError.self) { try RestrictedUnpickler.unpickle(p.data, name: "e.pkl", vocabulary: .numpyArrays) }
        #expect(error == .globalRefused(path: "e.pkl", module: "builtins", name: "eval", offset: 18))
    }

    @Test func refusesOpcodesOutsideTheSubset() throws {
        let cases: [(UInt8, String)] = [(0x69, "INST"), (0x81, "NEWOBJ"), (0x50, "PERSID"), (0x51, "BINPERSID"),
                                        (0x82, "EXT1"), (0x6F, "OBJ"), (0x30, "POP"), (0x46, "FLOAT"),
                                        (0x92, "NEWOBJ_EX"), (0xFF, "unknown")]
        for (code, name) in cases {
            var p = PickleBytes()
            p.op(0x80, [2])
            p.op(0x4E)
            p.op(code)
            let error = #expect(throws: PickleError.self) { try RestrictedUnpickler.unpickle(p.data, name: "x", vocabulary: .numpyArrays) }
            #expect(error == .opcodeRefused(path: "x", opcode: code, name: name, offset: 3))
        }
    }

    @Test func refusesCallingAllowlistedNonCallables() throws {
        // numpy.ndarray may be referenced (as _reconstruct's argument) but not called.
        var p = PickleBytes()
        p.op(0x80, [2])
        p.global("numpy", "ndarray")
        p.op(0x29)
        p.op(0x52)
        p.op(0x2E)
        let error = #expect(throws: PickleError.self) { try RestrictedUnpickler.unpickle(p.data, name: "n", vocabulary: .numpyArrays) }
        guard case let .malformed(_, reason, offset)? = error else {
            Issue.record("expected .malformed, got \(String(describing: error))")
            return
        }
        #expect(offset == 18 && reason.contains("numpy.ndarray may not be called"))
        // _codecs.encode only with latin1.
        var q = PickleBytes()
        q.op(0x80, [2])
        q.global("_codecs", "encode")
        q.unicode("x")
        q.unicode("rot13")
        q.op(0x86)
        q.op(0x52)
        q.op(0x2E)
        #expect(throws: PickleError.self) { try RestrictedUnpickler.unpickle(q.data, vocabulary: .numpyArrays) }
    }

    @Test func decodesTheSupportedSubset() throws {
        var p = PickleBytes()
        p.op(0x80, [2])
        p.op(0x7D)                                   // {}
        p.op(0x72, PickleBytes.le(300, 4))           // LONG_BINPUT 300
        p.op(0x28)                                   // MARK
        p.shortBinString("ints")
        p.op(0x5D)                                   // []
        p.op(0x71, [7])                              // BINPUT 7 (the list, before it is filled)
        p.op(0x28)
        p.op(0x4B, [255])                            // BININT1
        p.op(0x4D, [0x10, 0x27])                     // BININT2 10000
        p.op(0x4A, PickleBytes.le(-5, 4))            // BININT -5
        p.op(0x8A, [2, 0x00, 0x80])                  // LONG1 -32768
        p.op(0x8A, [5, 0, 0, 0, 0, 1])               // LONG1 2^32
        p.op(0x8A, [0])                              // LONG1 0
        p.op(0x65)                                   // APPENDS
        p.unicode("flags")
        p.op(0x28); p.op(0x88); p.op(0x89); p.op(0x4E); p.op(0x74)  // (True, False, None)
        p.op(0x43, [2, 0xDE, 0xAD])                  // SHORT_BINBYTES
        p.op(0x42, PickleBytes.le(1, 4) + [0x42])    // BINBYTES
        p.op(0x75)                                   // SETITEMS
        p.op(0x6A, PickleBytes.le(300, 4))           // LONG_BINGET 300 (the dict)
        p.op(0x68, [7])                              // BINGET 7 (the filled list)
        p.op(0x61)                                   // APPEND onto the dict below the list
        p.op(0x2E)
        // APPEND's target (the object below the appended value) is the dict → refused.
        let error = #expect(throws: PickleError.self) { try RestrictedUnpickler.unpickle(p.data, vocabulary: .numpyArrays) }
        #expect(error?.description.contains("APPEND(S) target is not a list") == true)

        // Same stream with the final APPEND replaced by TUPLE2: the result is (dict, list).
        var ok = p.data
        ok.removeLast(2)
        ok.append(contentsOf: [0x86, 0x2E])
        let value = try RestrictedUnpickler.unpickle(ok, vocabulary: .numpyArrays)
        let ints: PickleValue = .list([.int(255), .int(10000), .int(-5), .int(-32768), .int(1 << 32), .int(0)])
        let dict: PickleValue = .dict([
            PickleDictEntry(key: .bytes(Data("ints".utf8)), value: ints),
            PickleDictEntry(key: .string("flags"), value: .tuple([.bool(true), .bool(false), .none])),
            PickleDictEntry(key: .bytes(Data([0xDE, 0xAD])), value: .bytes(Data([0x42]))),
        ])
        #expect(value == .tuple([dict, ints]))  // the memoized list is shared: BINGET sees the appended items
        #expect(value.elements?[0]["ints"]?.intList == [255, 10000, -5, -32768, 1 << 32, 0])
        #expect(value.elements?[0]["flags"]?.elements?.count == 3)
    }

    @Test func cyclesAndTruncationAreErrors() throws {
        var p = PickleBytes()
        p.op(0x80, [2])
        p.op(0x5D); p.op(0x71, [0]); p.op(0x68, [0]); p.op(0x61)  // l = []; l.append(l)
        p.op(0x2E)
        let error = #expect(throws: PickleError.self) { try RestrictedUnpickler.unpickle(p.data, vocabulary: .numpyArrays) }
        #expect(error?.description.contains("cyclic") == true)

        let fixture = try Data(contentsOf: ReaderFixtures.url("cifar100_test_py3_protocol2.pickle"))
        for cut in [1, 40, fixture.count / 2, fixture.count - 1] {
            let error = #expect(throws: PickleError.self) {
                try RestrictedUnpickler.unpickle(fixture.prefix(cut), name: "cut.pkl", vocabulary: .numpyArrays)
            }
            #expect(error?.description.contains("truncated") == true, "cut at \(cut): \(String(describing: error))")
        }
    }

    @Test func arrayStateMustMatchShape() throws {
        // _reconstruct(ndarray, (0,), b'b') then BUILD with shape (2, 3) but only 5 bytes.
        var p = PickleBytes()
        p.op(0x80, [2])
        p.global("numpy.core.multiarray", "_reconstruct")
        p.global("numpy", "ndarray")
        p.op(0x4B, [0]); p.op(0x85)
        p.shortBinString("b")
        p.op(0x87); p.op(0x52)
        p.op(0x28)
        p.op(0x4B, [1])
        p.op(0x4B, [2]); p.op(0x4B, [3]); p.op(0x86)
        p.global("numpy", "dtype")
        p.shortBinString("u1"); p.op(0x4B, [0]); p.op(0x4B, [1]); p.op(0x87); p.op(0x52)
        p.op(0x28); p.op(0x4B, [3]); p.shortBinString("|"); p.op(0x4E); p.op(0x4E); p.op(0x4E)
        p.op(0x4A, PickleBytes.le(-1, 4)); p.op(0x4A, PickleBytes.le(-1, 4)); p.op(0x4B, [0]); p.op(0x74); p.op(0x62)
        p.op(0x89)
        var good = p
        p.op(0x54, PickleBytes.le(5, 4)); p.data.append(contentsOf: [1, 2, 3, 4, 5])
        p.op(0x74); p.op(0x62); p.op(0x2E)
        let error = #expect(throws: PickleError.self) { try RestrictedUnpickler.unpickle(p.data, vocabulary: .numpyArrays) }
        #expect(error?.description.contains("needs 6 bytes, data has 5") == true)

        good.op(0x54, PickleBytes.le(6, 4)); good.data.append(contentsOf: [1, 2, 3, 4, 5, 6])
        good.op(0x74); good.op(0x62); good.op(0x2E)
        guard case let .array(array) = try RestrictedUnpickler.unpickle(good.data, vocabulary: .numpyArrays) else {
            Issue.record("expected an array")
            return
        }
        #expect(array.shape == [2, 3] && array.dtype.descr == "|u1" && array.data == Data([1, 2, 3, 4, 5, 6]))
    }

    @Test func python3Protocol2UsesCodecsEncode() throws {
        let expected = try ReaderFixtures.expected().cifar100_py3_protocol2
        let value = try RestrictedUnpickler.unpickle(Data(contentsOf: ReaderFixtures.url("cifar100_test_py3_protocol2.pickle")), vocabulary: .numpyArrays)
        #expect(value["fine_labels"]?.intList == expected.labels)
        #expect(value["coarse_labels"]?.intList == expected.coarse_labels)
        #expect(value["batch_label"] == .bytes(Data("test".utf8)))
        guard case let .array(array)? = value["data"] else {
            Issue.record("no array under 'data'")
            return
        }
        #expect(array.shape == [2, 3072])
        var pixels: [UInt8] = []
        CIFARReader.appendHWC(array.data, records: 2, recordSize: 3072, headerBytes: 0, to: &pixels)
        #expect([ReaderFixtures.hwcChecksum(pixels[0 ..< 3072]), ReaderFixtures.hwcChecksum(pixels[3072...])] == expected.hwc_checksums)
    }
}
