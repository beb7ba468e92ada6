// CIFAR-10 / CIFAR-100, python (pickled) or binary version, packed (.tar.gz) or extracted.
//
// Record layout (both versions): 3072 bytes per image, CHW planar: 1024 red bytes (32 rows × 32 columns,
// row-major), then 1024 green, then 1024 blue. This reader converts every image to HWC interleaved
// (R,G,B per pixel, rows top to bottom), the layout of `RawImageBatch`.
//
// python version: pickled dicts `{data: uint8 array (N, 3072), labels | fine_labels + coarse_labels: [int],
//   filenames, batch_label}`; meta `batches.meta` (`label_names`) / `meta` (`fine_label_names`, ...).
// binary version: records of `<label byte> <3072 bytes>` (CIFAR-10) or `<coarse byte> <fine byte> <3072 bytes>`
//   (CIFAR-100); names in `batches.meta.txt` / `fine_label_names.txt`.

import Foundation
import TensorKit

public enum CIFARVariant: String, Sendable, CaseIterable {
    case cifar10
    case cifar100

    public var datasetKey: String { rawValue }
    public var displayName: String { self == .cifar10 ? "CIFAR-10" : "CIFAR-100" }
    public var classCount: Int { self == .cifar10 ? 10 : 100 }

    /// Extracted folder names (python, binary).
    public var folderNames: [String] {
        self == .cifar10 ? ["cifar-10-batches-py", "cifar-10-batches-bin"] : ["cifar-100-python", "cifar-100-binary"]
    }

    /// Archive file names as distributed (python, binary).
    public var archiveNames: [String] {
        self == .cifar10 ? ["cifar-10-python.tar.gz", "cifar-10-binary.tar.gz"]
            : ["cifar-100-python.tar.gz", "cifar-100-binary.tar.gz"]
    }

    func batchNames(_ format: CIFARFormat, _ split: DatasetSplit) -> [String] {
        switch (self, format, split) {
        case (.cifar10, .python, .train): return (1 ... 5).map { "data_batch_\($0)" }
        case (.cifar10, .python, .test): return ["test_batch"]
        case (.cifar10, .binary, .train): return (1 ... 5).map { "data_batch_\($0).bin" }
        case (.cifar10, .binary, .test): return ["test_batch.bin"]
        case (.cifar100, .python, _): return [split.rawValue]
        case (.cifar100, .binary, _): return ["\(split.rawValue).bin"]
        }
    }

    func metaName(_ format: CIFARFormat) -> String {
        switch (self, format) {
        case (.cifar10, .python): return "batches.meta"
        case (.cifar10, .binary): return "batches.meta.txt"
        case (.cifar100, .python): return "meta"
        case (.cifar100, .binary): return "fine_label_names.txt"
        }
    }

    /// Names used when the meta file is absent (same as the meta files / torchvision).
    func fallbackClassNames() -> [String]? {
        switch self {
        case .cifar10:
            return ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
        case .cifar100:
            return try? ReaderResources.classNames("cifar100")
        }
    }
}

public enum CIFARFormat: String, Sendable {
    case python
    case binary
}

public enum CIFARReader {
    /// Cap on the decompressed size of a `.tar.gz` archive (the real ones are ~180 MB).
    public static let defaultMaxArchiveBytes = 1 << 30
    public static let imageBytes = 3072

    /// Reads one split.
    ///
    /// `location` may be: a `.tar.gz`/`.tar` archive as distributed; an extracted folder
    /// (`cifar-10-batches-py/`, `cifar-10-batches-bin/`, `cifar-100-python/`, `cifar-100-binary/`); or a folder
    /// holding one of those folders or archives (checked in that order, python version first).
    /// Ids are `"<split>/<index, 5 digits>"` in batch order (`data_batch_1` … `data_batch_5`).
    public static func load(_ variant: CIFARVariant, split: DatasetSplit, from location: URL,
                            maxArchiveBytes: Int = defaultMaxArchiveBytes) throws -> LabeledSamples {
        let files = try CIFARFiles.open(variant, location: location, maxArchiveBytes: maxArchiveBytes)
        let format = try files.detectFormat(variant, split: split)

        var pixels: [UInt8] = []
        var labels: [Int] = []
        var coarse: [Int] = []
        for batch in variant.batchNames(format, split) {
            let (data, name) = try files.read(batch, expected: "\(variant.displayName) \(split.rawValue) batch")
            switch format {
            case .python: try decodePythonBatch(data, name: name, variant: variant,
                                                pixels: &pixels, labels: &labels, coarse: &coarse)
            case .binary: try decodeBinaryBatch(data, name: name, variant: variant,
                                                pixels: &pixels, labels: &labels, coarse: &coarse)
            }
        }
        guard !labels.isEmpty else {
            throw DatasetError.empty(path: files.description, what: "\(variant.displayName) \(split.rawValue) split")
        }
        let classNames = try readClassNames(variant, format: format, files: files)
        let ids = (0 ..< labels.count).map { "\(split.rawValue)/\(ReaderFiles.padded($0, 5))" }
        let batch = RawImageBatch(width: 32, height: 32, channels: 3, count: labels.count, pixels: pixels)
        return LabeledSamples(dataset: variant.datasetKey, split: split, ids: ids, labels: labels,
                              classNames: classNames, coarseLabels: variant == .cifar100 ? coarse : nil,
                              content: .pixels(batch), source: files.url)
    }

    // MARK: - Decoding

    static func decodePythonBatch(_ data: Data, name: String, variant: CIFARVariant, pixels: inout [UInt8],
                                  labels: inout [Int], coarse: inout [Int]) throws {
        let value = try RestrictedUnpickler.unpickle(data, name: name, vocabulary: .numpyArrays)
        guard case .dict = value else { throw DatasetError.malformed(path: name, reason: "pickle is not a dict") }
        guard case let .array(array)? = value["data"] else {
            throw DatasetError.malformed(path: name, reason: "no numpy array under key 'data'")
        }
        guard array.dtype.kind == "u", array.dtype.itemSize == 1, array.shape.count == 2,
              array.shape[1] == imageBytes else {
            throw DatasetError.malformed(path: name, reason: "'data' has shape \(array.shape) and dtype "
                                             + "\(array.dtype.descr); expected (N, 3072) uint8")
        }
        let n = array.shape[0]
        let labelKey = variant == .cifar10 ? "labels" : "fine_labels"
        let fine = try intList(value, labelKey, name: name, count: n, classCount: variant.classCount)
        if variant == .cifar100 {
            coarse += try intList(value, "coarse_labels", name: name, count: n, classCount: 20)
        }
        labels += fine
        appendHWC(array.data, records: n, recordSize: imageBytes, headerBytes: 0, to: &pixels)
    }

    private static func intList(_ dict: PickleValue, _ key: String, name: String, count: Int,
                                classCount: Int) throws -> [Int] {
        guard let values = dict[key]?.intList else {
            throw DatasetError.malformed(path: name, reason: "no integer list under key '\(key)'")
        }
        guard values.count == count else {
            throw DatasetError.countMismatch(path: "\(name) ['data']", count: count,
                                             otherPath: "\(name) ['\(key)']", otherCount: values.count)
        }
        if let bad = values.firstIndex(where: { $0 < 0 || $0 >= classCount }) {
            throw DatasetError.labelOutOfRange(path: "\(name) ['\(key)']", index: bad, label: values[bad],
                                               classCount: classCount)
        }
        return values
    }

    static func decodeBinaryBatch(_ data: Data, name: String, variant: CIFARVariant, pixels: inout [UInt8],
                                  labels: inout [Int], coarse: inout [Int]) throws {
        let header = variant == .cifar10 ? 1 : 2
        let record = header + imageBytes
        guard data.count % record == 0 else {
            let whole = (data.count / record + 1) * record
            throw DatasetError.truncated(path: name, expectedBytes: whole, actualBytes: data.count)
        }
        let n = data.count / record
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            for i in 0 ..< n {
                let fine = Int(raw[i * record + header - 1])
                guard fine < variant.classCount else {
                    throw DatasetError.labelOutOfRange(path: name, index: i, label: fine, classCount: variant.classCount)
                }
                labels.append(fine)
                if variant == .cifar100 {
                    let c = Int(raw[i * record])
                    guard c < 20 else { throw DatasetError.labelOutOfRange(path: name, index: i, label: c, classCount: 20) }
                    coarse.append(c)
                }
            }
        }
        appendHWC(data, records: n, recordSize: record, headerBytes: header, to: &pixels)
    }

    /// Appends `records` images, each stored CHW planar after `headerBytes` bytes, as HWC interleaved.
    static func appendHWC(_ data: Data, records: Int, recordSize: Int, headerBytes: Int, to pixels: inout [UInt8]) {
        precondition(data.count >= records * recordSize, "CIFAR records exceed the data")
        let start = pixels.count
        pixels += [UInt8](repeating: 0, count: records * imageBytes)  // memset, fast even in debug builds
        pixels.withUnsafeMutableBufferPointer { out in
            data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                guard records > 0, let dstBase = out.baseAddress, let srcBase = raw.baseAddress else { return }
                let src = srcBase.assumingMemoryBound(to: UInt8.self)
                let plane = 1024
                for r in 0 ..< records {
                    let red = src + r * recordSize + headerBytes
                    let green = red + plane
                    let blue = green + plane
                    var dst = dstBase + start + r * imageBytes
                    for p in 0 ..< plane {
                        dst[0] = red[p]
                        dst[1] = green[p]
                        dst[2] = blue[p]
                        dst += 3
                    }
                }
            }
        }
    }

    private static func readClassNames(_ variant: CIFARVariant, format: CIFARFormat,
                                       files: CIFARFiles) throws -> [String]? {
        let metaName = variant.metaName(format)
        guard files.contains(metaName) else { return variant.fallbackClassNames() }
        let (data, name) = try files.read(metaName, expected: "\(variant.displayName) meta file")
        let names: [String]
        switch format {
        case .python:
            let value = try RestrictedUnpickler.unpickle(data, name: name, vocabulary: .numpyArrays)
            let key = variant == .cifar10 ? "label_names" : "fine_label_names"
            guard let list = value[key]?.textList else {
                throw DatasetError.malformed(path: name, reason: "no list of names under key '\(key)'")
            }
            names = list
        case .binary:
            names = String(decoding: data, as: UTF8.self).split(separator: "\n")
                .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        }
        guard names.count == variant.classCount else {
            throw DatasetError.malformed(path: name, reason: "\(names.count) class names, expected \(variant.classCount)")
        }
        return names
    }
}

/// The batch files of one CIFAR copy: an extracted folder or the wanted members of an archive.
final class CIFARFiles: CustomStringConvertible {
    let url: URL
    private let isArchive: Bool
    private var members: [String: (path: String, data: Data)] = [:]

    private init(directory: URL) {
        url = directory
        isArchive = false
    }

    private init(archive: URL, variant: CIFARVariant, maxBytes: Int) throws {
        url = archive
        isArchive = true
        var wanted = Set<String>()
        for format in [CIFARFormat.python, .binary] {
            wanted.insert(variant.metaName(format))
            for split in DatasetSplit.allCases { wanted.formUnion(variant.batchNames(format, split)) }
        }
        let entries = try TarReader.regularFiles(at: archive, maxBytes: maxBytes) { path in
            wanted.contains(String(path.split(separator: "/").last ?? ""))
        }
        for e in entries {
            if let previous = members[e.baseName] {
                throw DatasetError.malformed(path: archive.path,
                                             reason: "archive holds both \(previous.path) and \(e.path)")
            }
            members[e.baseName] = (e.path, e.data)
        }
    }

    var description: String { url.path }

    static func open(_ variant: CIFARVariant, location: URL, maxArchiveBytes: Int) throws -> CIFARFiles {
        if ReaderFiles.isFile(location) {
            return try CIFARFiles(archive: location, variant: variant, maxBytes: maxArchiveBytes)
        }
        let expected = "\(variant.displayName) data: a folder or archive named \(variant.folderNames.joined(separator: ", ")), "
            + variant.archiveNames.joined(separator: ", ")
        try ReaderFiles.requireDirectory(location, expected: expected)
        let direct = CIFARFiles(directory: location)
        if [CIFARFormat.python, .binary].contains(where: { direct.contains(variant.batchNames($0, .test)[0])
            || direct.contains(variant.batchNames($0, .train)[0]) }) {
            return direct
        }
        for folder in variant.folderNames where ReaderFiles.isDirectory(location.appendingPathComponent(folder)) {
            return CIFARFiles(directory: location.appendingPathComponent(folder))
        }
        for archive in variant.archiveNames where ReaderFiles.isFile(location.appendingPathComponent(archive)) {
            return try CIFARFiles(archive: location.appendingPathComponent(archive), variant: variant,
                                  maxBytes: maxArchiveBytes)
        }
        throw DatasetError.missingFile(path: location.appendingPathComponent(variant.archiveNames[0]).path,
                                       expected: "\(expected) (in \(location.path))")
    }

    func contains(_ name: String) -> Bool {
        isArchive ? members[name] != nil : ReaderFiles.isFile(url.appendingPathComponent(name))
    }

    /// The python version wins when both are present.
    func detectFormat(_ variant: CIFARVariant, split: DatasetSplit) throws -> CIFARFormat {
        for format in [CIFARFormat.python, .binary] where contains(variant.batchNames(format, split)[0]) {
            return format
        }
        let names = [CIFARFormat.python, .binary].map { variant.batchNames($0, split)[0] }
        let missing = isArchive ? "\(url.path):\(names[0])" : url.appendingPathComponent(names[0]).path
        throw DatasetError.missingFile(path: missing, expected: "\(variant.displayName) \(split.rawValue) batch "
                                           + "('\(names[0])' for the python version or '\(names[1])' for the binary one)")
    }

    /// File bytes and the name to use in errors (`archive.tar.gz:member/path` for archive members).
    func read(_ name: String, expected: String) throws -> (Data, String) {
        if isArchive {
            guard let m = members[name] else {
                throw DatasetError.missingFile(path: "\(url.path):\(name)", expected: expected)
            }
            return (m.data, "\(url.path):\(m.path)")
        }
        let file = url.appendingPathComponent(name)
        return (try ReaderFiles.read(file, expected: expected), file.path)
    }
}
