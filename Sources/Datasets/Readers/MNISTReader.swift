// MNIST and Fashion-MNIST as distributed: `train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`,
// `t10k-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]` in one folder.

import Foundation

public enum MNISTVariant: String, Sendable, CaseIterable {
    case mnist
    case fashionMNIST

    /// Dataset key used in `LabeledSamples.dataset`.
    public var datasetKey: String { self == .mnist ? "mnist" : "fashion-mnist" }

    public var displayName: String { self == .mnist ? "MNIST" : "Fashion-MNIST" }

    /// Label `i` → name `i`.
    public var classNames: [String] {
        switch self {
        case .mnist: return (0 ..< 10).map(String.init)
        case .fashionMNIST:
            return ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
        }
    }
}

public enum MNISTReader {
    /// Reads one split from `directory` (e.g. `/usr/share/datasets/fashion-mnist`). For each file the gzip name
    /// (`…-ubyte.gz`) is tried first, then the plain one, then the `t10k-images.idx3-ubyte` spelling.
    ///
    /// Checks: magic numbers, image/label count equality, labels in 0..<10, exact byte lengths, and the
    /// `maxBytes` cap on what a header may claim (checked before allocation).
    /// Ids are `"<split>/<index, 5 digits>"`; pixels are 1-channel (`RawImageBatch.channels == 1`).
    public static func load(_ variant: MNISTVariant, split: DatasetSplit, from directory: URL,
                            maxBytes: Int = IDXReader.defaultMaxBytes) throws -> LabeledSamples {
        try ReaderFiles.requireDirectory(directory, expected: "\(variant.displayName) folder with "
                                             + "train-images-idx3-ubyte.gz, t10k-images-idx3-ubyte.gz, ...")
        let prefix = split == .train ? "train" : "t10k"
        let imagesURL = try locate(directory, prefix: prefix, kind: "images", rank: 3,
                                   what: "\(variant.displayName) \(split.rawValue) images")
        let labelsURL = try locate(directory, prefix: prefix, kind: "labels", rank: 1,
                                   what: "\(variant.displayName) \(split.rawValue) labels")
        let images = try IDXReader.readImages(at: imagesURL, maxBytes: maxBytes)
        let rawLabels = try IDXReader.readLabels(at: labelsURL, maxBytes: maxBytes)
        guard rawLabels.count == images.count else {
            throw DatasetError.countMismatch(path: imagesURL.path, count: images.count,
                                             otherPath: labelsURL.path, otherCount: rawLabels.count)
        }
        let classCount = variant.classNames.count
        var labels = [Int](repeating: 0, count: rawLabels.count)
        for (i, l) in rawLabels.enumerated() {
            guard Int(l) < classCount else {
                throw DatasetError.labelOutOfRange(path: labelsURL.path, index: i, label: Int(l), classCount: classCount)
            }
            labels[i] = Int(l)
        }
        let ids = (0 ..< images.count).map { "\(split.rawValue)/\(ReaderFiles.padded($0, 5))" }
        return LabeledSamples(dataset: variant.datasetKey, split: split, ids: ids, labels: labels,
                              classNames: variant.classNames, content: .pixels(images), source: directory)
    }

    private static func locate(_ dir: URL, prefix: String, kind: String, rank: Int, what: String) throws -> URL {
        let names = ["\(prefix)-\(kind)-idx\(rank)-ubyte.gz", "\(prefix)-\(kind)-idx\(rank)-ubyte",
                     "\(prefix)-\(kind).idx\(rank)-ubyte.gz", "\(prefix)-\(kind).idx\(rank)-ubyte"]
        for name in names where ReaderFiles.isFile(dir.appendingPathComponent(name)) {
            return dir.appendingPathComponent(name)
        }
        throw DatasetError.missingFile(path: dir.appendingPathComponent(names[0]).path,
                                       expected: "\(what); also tried \(names[1]), \(names[2]), \(names[3])")
    }
}
