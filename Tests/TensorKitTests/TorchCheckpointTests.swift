import Foundation
import Testing
@testable import TensorKit

/// The PyTorch checkpoint reader against files written by torch itself (tools/make_hub_fixtures.py →
/// Tests/Fixtures/torch, expectations made contiguous F32 by torch), and against hostile files
/// (Tests/Fixtures/fuzz/torch) that must each be refused with one line naming the file and what was refused.
@Suite struct TorchCheckpointTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    static func fixture(_ name: String) -> URL { fixtures.appendingPathComponent("torch/" + name) }

    @Test func everyTensorOfATorchSaveStateDictMatchesTorch() throws {
        let file = try TorchCheckpointFile(contentsOf: Self.fixture("state_dict.pt"))
        let expected = try SafeTensorsFile(contentsOf: Self.fixture("expected.safetensors"))
        // Every floating tensor torch wrote, plus the I64 one; nothing from `_metadata`.
        #expect(file.names == (expected.names + ["long"]).sorted())
        for name in expected.names {
            let reference = try expected.tensor(name)
            let t = try file.tensor(name)
            #expect(t.shape == reference.shape, "\(name)")
            // F16/BF16 widen exactly and F64 rounds to nearest in both, so the values are bit-identical.
            #expect(t.storage.map(\.bitPattern) == reference.storage.map(\.bitPattern), "\(name)")
        }
        // Views saved without .contiguous(): an offset slice and a transpose of one shared storage.
        #expect(file.shape(of: "shared.slice") == [4, 5] && file.shape(of: "shared.transposed") == [8, 6])
        #expect(file.shape(of: "scalar") == [])
        #expect(try file.tensor("shared.slice").storage.first == 10 / Float(7))
    }

    @Test func integerTensorsAreNotReadAsFloats() throws {
        let file = try TorchCheckpointFile(contentsOf: Self.fixture("state_dict.pt"))
        let error = #expect(throws: TorchCheckpointError.self) { try file.tensor("long") }
        #expect(error?.message == "tensor 'long' has dtype I64, not a floating-point dtype")
        #expect(throws: TorchCheckpointError.self) { try file.tensor("no.such.tensor") }
    }

    /// open_clip's training checkpoint ({"epoch", "name", "state_dict": {"module.…"}, "optimizer"}) holds the same
    /// weights as a plain dict saved to a stream ("archive/" records): the state dict is found and unprefixed.
    @Test func trainingCheckpointAndPlainDictGiveTheSameWeights() throws {
        let training = try TorchCheckpointFile(contentsOf: Self.fixture("training_checkpoint.pt"))
        let plain = try TorchCheckpointFile(contentsOf: Self.fixture("plain_dict.bin"))
        #expect(training.names == ["0.bias", "0.weight", "1.bias", "1.weight"])
        #expect(plain.names == training.names)
        for name in plain.names {
            #expect(try training.tensor(name) == (try plain.tensor(name)), "\(name)")
        }
    }

    @Test(arguments: [
        ("legacy.pt", "the legacy torch.save format of PyTorch < 1.6 is not supported"),
        ("torchscript.pt", "a TorchScript archive (torch.jit.save), which is code, not weights: refused"),
    ])
    func formatsThatAreNotWeightArchivesAreRefused(_ name: String, _ phrase: String) throws {
        let url = Self.fixture(name)
        let error = #expect(throws: TorchCheckpointError.self) { try TorchCheckpointFile(contentsOf: url) }
        let message = error.map { "\($0)" } ?? ""
        #expect(message.hasPrefix(url.path + ": ") && message.contains(phrase) && !message.contains("\n"), "\(message)")
    }

    @Test(arguments: [
        ("global-os-system.pt", "pickle global os.system at byte 2 is not allowed"),
        ("global-builtins-eval.pt", "pickle global builtins.eval at byte 2 is not allowed"),
        ("reduce-storage-class.pt", "torch.FloatStorage may not be called"),
        ("deep-nesting.pt", "nested deeper than 100 levels"),
        ("deep-ordereddicts.pt", "nested deeper than 100 levels"),
        ("storage-smaller-than-view.pt", "tensor 'w' of shape [3, 3] (strides [3, 1], offset 0) reaches past its storage of 4 elements"),
        ("storage-offset-past-end.pt", "tensor 'w' of shape [1] (strides [1], offset 9) reaches past its storage of 4 elements"),
        ("empty-view-offset-past-end.pt", "tensor 'w' of shape [0] (strides [1], offset 1000) reaches past its storage of 4 elements"),
        ("missing-storage-record.pt", "tensor 'w' uses storage 7, which has no record archive/data/7"),
        ("entry-outside-file.pt", "points outside the file or at no local header"),
        ("truncated.pt", "no zip end-of-central-directory record (truncated download?)"),
    ])
    func hostileFilesAreRefusedWithOneLine(_ name: String, _ phrase: String) throws {
        let url = Self.fixtures.appendingPathComponent("fuzz/torch/" + name)
        var message = ""
        do {
            let file = try TorchCheckpointFile(contentsOf: url)
            Issue.record("\(name) was accepted with tensors \(file.names)")
        } catch {
            message = "\(error)"
        }
        #expect(message.hasPrefix(url.path) && message.contains(phrase) && !message.contains("\n"), "\(message)")
    }

    /// Every hostile fixture is listed above: a new regression input needs its expected refusal.
    @Test func everyHostileFixtureHasAnExpectedRefusal() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.appendingPathComponent("fuzz/torch").path).sorted()
        #expect(names == ["deep-nesting.pt", "deep-ordereddicts.pt", "empty-view-offset-past-end.pt", "entry-outside-file.pt", "global-builtins-eval.pt", "global-os-system.pt",
                          "missing-storage-record.pt", "reduce-storage-class.pt", "storage-offset-past-end.pt",
                          "storage-smaller-than-view.pt", "truncated.pt"])
    }

    /// Each vocabulary allows only its own globals: numpy's array rebuilding is no state-dict global, and torch's
    /// tensors and persistent ids are nothing a CIFAR batch may use.
    @Test func vocabulariesDoNotMix() throws {
        let numpyGlobal = Data([0x80, 0x02, 0x63] + Array("numpy.core.multiarray\n_reconstruct\n".utf8) + [0x2E])
        #expect(throws: PickleError.globalRefused(path: "p", module: "numpy.core.multiarray", name: "_reconstruct", offset: 2)) {
            try RestrictedUnpickler.unpickle(numpyGlobal, name: "p", vocabulary: .torchStateDict)
        }
        let orderedDict = Data([0x80, 0x02, 0x63] + Array("collections\nOrderedDict\n".utf8) + [0x29, 0x52, 0x2E])
        #expect(try RestrictedUnpickler.unpickle(orderedDict, name: "p", vocabulary: .torchStateDict) == .dict([]))
        #expect(throws: PickleError.globalRefused(path: "p", module: "collections", name: "OrderedDict", offset: 2)) {
            try RestrictedUnpickler.unpickle(orderedDict, name: "p", vocabulary: .numpyArrays)
        }
        let persistentID = Data([0x80, 0x02, 0x4E, 0x51, 0x2E])
        #expect(throws: PickleError.opcodeRefused(path: "p", opcode: 0x51, name: "BINPERSID", offset: 3)) {
            try RestrictedUnpickler.unpickle(persistentID, name: "p", vocabulary: .numpyArrays)
        }
        // BINFLOAT (optimizer settings in training checkpoints) is a big-endian double.
        let float = Data([0x80, 0x02, 0x47, 0x3F, 0xB9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A, 0x2E])
        #expect(try RestrictedUnpickler.unpickle(float, name: "p", vocabulary: .torchStateDict) == .float(0.1))
    }

    @Test func aFileThatIsNoZipSaysSo() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("clipcl-not-torch-\(UUID().uuidString).bin")
        try Data("{\"not\": \"a checkpoint\"}".utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let error = #expect(throws: TorchCheckpointError.self) { try TorchCheckpointFile(contentsOf: url) }
        #expect(error?.message == "not a PyTorch checkpoint (torch.save writes a zip archive; this file does not start with one)")
    }
}
