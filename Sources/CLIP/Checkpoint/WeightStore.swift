import Foundation
import TensorKit

/// Named tensors from one or more memory-mapped safetensors files (one file, or HF shards
/// listed in model.safetensors.index.json). Looks tensors up by name and checks their shapes.
public final class WeightStore: @unchecked Sendable {
    public let files: [SafeTensorsFile]
    private var location: [String: Int] = [:]

    public init(files: [SafeTensorsFile]) throws {
        self.files = files
        for (i, f) in files.enumerated() {
            for name in f.names { location[name] = i }
        }
    }

    /// A single .safetensors file.
    public convenience init(file url: URL) throws {
        try self.init(files: [SafeTensorsFile(contentsOf: url)])
    }

    /// Shards named by an HF `model.safetensors.index.json` (`{"weight_map": {tensor: file}}`).
    public convenience init(index url: URL) throws {
        let data = try Data(contentsOf: url)
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let map = obj["weight_map"] as? [String: String] else {
            throw CLIPError.unsupportedCheckpoint(url.path, "index file has no \"weight_map\" object of strings")
        }
        let dir = url.deletingLastPathComponent()
        var files: [SafeTensorsFile] = []
        for name in Set(map.values).sorted() {
            guard !name.contains("/"), !name.hasPrefix(".") else {
                throw CLIPError.unsupportedCheckpoint(url.path, "shard name '\(name)' must be a plain file name")
            }
            files.append(try SafeTensorsFile(contentsOf: dir.appendingPathComponent(name)))
        }
        try self.init(files: files)
    }

    public var names: [String] { location.keys.sorted() }
    public func contains(_ name: String) -> Bool { location[name] != nil }

    public func shape(_ name: String) -> [Int]? {
        guard let i = location[name] else { return nil }
        return files[i].entry(name)?.shape
    }

    /// The tensor `name` as Float32, checked against `expected` (a missing or wrongly shaped tensor
    /// is an error naming it). The pages it came from are released after the copy.
    public func tensor(_ name: String, _ expected: [Int]) throws -> Tensor {
        guard let i = location[name] else {
            throw CLIPError.missingTensor(file: fileLabel, name: name, expected: expected)
        }
        let file = files[i]
        let actual = file.entry(name)?.shape ?? []
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
