import Foundation
import TensorKit

/// Named tensors from one or more memory-mapped checkpoint files: safetensors or PyTorch `torch.save` archives,
/// one file or the shards listed in an HF index (`model.safetensors.index.json`, `pytorch_model.bin.index.json`).
/// Looks tensors up by name and checks their shapes.
public final class WeightStore: @unchecked Sendable {
    public let files: [any TensorFile]
    private var location: [String: Int] = [:]

    public init(files: [any TensorFile]) throws {
        self.files = files
        for (i, f) in files.enumerated() {
            for name in f.names { location[name] = i }
        }
    }

    /// A single weights file, safetensors or PyTorch (told apart by content, not by name).
    public convenience init(file url: URL) throws {
        try self.init(files: [Self.open(url)])
    }

    /// Shards named by an HF index file (`{"weight_map": {tensor: file}}`).
    public convenience init(index url: URL) throws {
        let dir = url.deletingLastPathComponent()
        try self.init(files: try Self.shardNames(index: url).map { try Self.open(dir.appendingPathComponent($0)) })
    }

    /// The shard file names of an HF index file, sorted; each must be a plain file name.
    public static func shardNames(index url: URL) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: url.path),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let map = obj["weight_map"] as? [String: String] else {
            throw CLIPError.unsupportedCheckpoint(url.path, "index file has no \"weight_map\" object of strings")
        }
        let names = Set(map.values).sorted()
        for name in names where name.contains("/") || name.hasPrefix(".") || name.isEmpty {
            throw CLIPError.unsupportedCheckpoint(url.path, "shard name '\(name)' must be a plain file name")
        }
        return names
    }

    /// Opens a weights file: `.safetensors` as safetensors, `.bin` / `.pt` / `.pth` as a PyTorch checkpoint, and any
    /// other name by its first bytes (a zip archive is a PyTorch checkpoint).
    static func open(_ url: URL) throws -> any TensorFile {
        switch url.pathExtension.lowercased() {
        case "safetensors": return try SafeTensorsFile(contentsOf: url)
        case "bin", "pt", "pth": return try TorchCheckpointFile(contentsOf: url)
        default:
            var head = Data()
            if let handle = FileHandle(forReadingAtPath: url.path) {
                head = handle.readData(ofLength: 4)
                try? handle.close()
            }
            return head == Data([0x50, 0x4B, 0x03, 0x04]) ? try TorchCheckpointFile(contentsOf: url) : try SafeTensorsFile(contentsOf: url)
        }
    }

    public var names: [String] { location.keys.sorted() }
    public func contains(_ name: String) -> Bool { location[name] != nil }

    public func shape(_ name: String) -> [Int]? {
        guard let i = location[name] else { return nil }
        return files[i].shape(of: name)
    }

    /// The tensor `name` as Float32, checked against `expected` (a missing or wrongly shaped tensor
    /// is an error naming it). The pages it came from are released after the copy.
    public func tensor(_ name: String, _ expected: [Int]) throws -> Tensor {
        guard let i = location[name] else {
            throw CLIPError.missingTensor(file: fileLabel, name: name, expected: expected)
        }
        let file = files[i]
        let actual = file.shape(of: name) ?? []
        // A 0-rank tensor and a [1] tensor hold the same scalar; accept either for scalars.
        let scalarMatch = expected.isEmpty && actual.reduce(1, *) == 1 && actual.count <= 1
        guard actual == expected || scalarMatch else {
            throw CLIPError.wrongShape(file: file.url.lastPathComponent, name: name, expected: expected, actual: actual)
        }
        let t = try file.tensor(name)
        file.adviseDone(name)
        return scalarMatch ? Tensor(scalar: t.storage[0]) : t
    }

    private var fileLabel: String {
        files.count == 1 ? files[0].url.lastPathComponent : files[0].url.deletingLastPathComponent().lastPathComponent
    }
}
