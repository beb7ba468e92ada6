// Benchmarks as data: for every dataset the project knows, its class names, published class order,
// prompt templates, default location and the reader that loads it.

import Foundation

/// An error looking up a benchmark, a class order or a template set. One line.
public struct BenchmarkError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One dataset of the class-incremental benchmarks (see the project docs: method.md §8–9).
public struct Benchmark: Sendable, Equatable {
    /// The name used on the command line and stored in caches (`cifar100`, `imagenet-r`, `folder`, …).
    public let name: String
    public let displayName: String
    /// Key of this dataset in the bundled `class_orders.json` / `templates.json` / `class_names/` (e.g. `imagenet_r`).
    public let resourceKey: String
    /// Number of classes; nil for the generic `folder` dataset (one class per sub-folder).
    public let classCount: Int?
    /// Where `load(split:)` looks when no root is given.
    public let defaultRoot: String?
    /// Template-set key used when none is chosen (a key of `templates.json`, see `templates(_:)`).
    public let defaultTemplatesKey: String

    /// The benchmarks, in the order `clipcl` lists them.
    public static let all: [Benchmark] = [
        Benchmark(name: "cifar10", displayName: "CIFAR-10", resourceKey: "cifar10", classCount: 10,
                  defaultRoot: "/usr/share/datasets/cifar10", defaultTemplatesKey: "photo"),
        Benchmark(name: "cifar100", displayName: "CIFAR-100", resourceKey: "cifar100", classCount: 100,
                  defaultRoot: "/usr/share/datasets/cifar100", defaultTemplatesKey: "continual_clip"),
        Benchmark(name: "mnist", displayName: "MNIST", resourceKey: "mnist", classCount: 10,
                  defaultRoot: "/usr/share/datasets/mnist", defaultTemplatesKey: "photo"),
        Benchmark(name: "fashion-mnist", displayName: "Fashion-MNIST", resourceKey: "fashion-mnist", classCount: 10,
                  defaultRoot: "/usr/share/datasets/fashion-mnist", defaultTemplatesKey: "photo"),
        Benchmark(name: "imagenet100", displayName: "ImageNet-100", resourceKey: "imagenet100", classCount: 100,
                  defaultRoot: "/usr/share/datasets/imagenet", defaultTemplatesKey: "continual_clip"),
        Benchmark(name: "imagenet-r", displayName: "ImageNet-R", resourceKey: "imagenet_r", classCount: 200,
                  defaultRoot: "/usr/share/datasets/imagenet-r", defaultTemplatesKey: "rapf"),
        Benchmark(name: "tinyimagenet", displayName: "TinyImageNet-200", resourceKey: "tinyimagenet", classCount: 200,
                  defaultRoot: "/usr/share/datasets/tiny-imagenet-200", defaultTemplatesKey: "continual_clip"),
        Benchmark(name: "cub200", displayName: "CUB-200-2011", resourceKey: "cub200", classCount: 200,
                  defaultRoot: "/usr/share/datasets/CUB_200_2011", defaultTemplatesKey: "rapf"),
        Benchmark(name: "folder", displayName: "image folder", resourceKey: "folder", classCount: nil,
                  defaultRoot: nil, defaultTemplatesKey: "photo"),
    ]

    /// Other spellings accepted by `named(_:)`.
    static let aliases: [String: String] = [
        "imagenet_r": "imagenet-r", "imagenetr": "imagenet-r", "fashion_mnist": "fashion-mnist",
        "fashionmnist": "fashion-mnist", "tiny-imagenet": "tinyimagenet", "tiny_imagenet": "tinyimagenet",
        "cub": "cub200", "cub-200": "cub200", "imagefolder": "folder",
    ]

    /// The benchmark called `name` (case-insensitive; `imagenet_r` etc. accepted). Unknown names throw a
    /// one-line error listing the known ones.
    public static func named(_ name: String) throws -> Benchmark {
        let key = name.lowercased()
        let canonical = aliases[key] ?? key
        if let b = all.first(where: { $0.name == canonical }) { return b }
        throw BenchmarkError("unknown dataset '\(name)' (known: \(all.map(\.name).joined(separator: ", ")))")
    }

    // MARK: - Class names and order

    /// Name of label `i` at index `i`, as put in the prompts. nil for `folder` (the sub-folder names,
    /// known only once the folder is read).
    public func classNames() throws -> [String]? {
        switch name {
        case "cifar10":
            return ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
        case "mnist": return MNISTVariant.mnist.classNames
        case "fashion-mnist": return MNISTVariant.fashionMNIST.classNames
        case "folder": return nil
        default: return try ReaderResources.classNames(resourceKey)
        }
    }

    /// The published class order (a permutation of the labels; task k = k-th chunk). Identity
    /// (0..<N) for datasets without a published order (CIFAR-10, MNIST, Fashion-MNIST, folders:
    /// pass `classCount` for a folder).
    public func classOrder(classCount: Int? = nil) throws -> [Int] {
        if let order = try Self.bundledClassOrders()[resourceKey] { return order }
        guard let n = self.classCount ?? classCount else {
            throw BenchmarkError("the class order of a '\(name)' dataset needs its class count")
        }
        return Array(0..<n)
    }

    // MARK: - Templates

    /// The template set `key`:
    /// - nil: this dataset's default (`continual_clip.<dataset>`, else `rapf.<dataset>`, else `a photo of a {}.`);
    /// - `continual_clip` / `rapf`: that method's single template for this dataset;
    /// - `continual_clip.<dataset>`, `rapf.<dataset>`: an explicit entry;
    /// - `clip_cifar_18`, `clip_imagenet_80`: the CLIP ensembles;
    /// - `photo`: `a photo of a {}.`;
    /// - a path to a text file with one template per line.
    public func templates(_ key: String? = nil) throws -> [String] {
        let table = try Self.bundledTemplates()
        let methodSets = ["continual_clip", "rapf"]
        func method(_ m: String, _ dataset: String) -> [String]? {
            if case let .byDataset(d)? = table[m] { return d[dataset] }
            return nil
        }
        let requested = key ?? defaultTemplatesKey
        if requested == "photo" { return ["a photo of a {}."] }
        if key == nil {
            for m in [defaultTemplatesKey] + methodSets {
                if let t = method(m, resourceKey) { return t }
            }
            return ["a photo of a {}."]
        }
        if methodSets.contains(requested) {
            guard let t = method(requested, resourceKey) else {
                throw BenchmarkError("templates.json has no '\(requested)' template for \(name)")
            }
            return t
        }
        let parts = requested.split(separator: ".", maxSplits: 1).map(String.init)
        if parts.count == 2, methodSets.contains(parts[0]) {
            guard let t = method(parts[0], parts[1]) else {
                throw BenchmarkError("templates.json has no entry '\(requested)'")
            }
            return t
        }
        if case let .list(t)? = table[requested] { return t }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: requested, isDirectory: &isDir), !isDir.boolValue {
            guard let text = try? String(contentsOfFile: requested, encoding: .utf8) else {
                throw BenchmarkError("\(requested): cannot read the templates file as UTF-8 text")
            }
            let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
            guard !lines.isEmpty else { throw BenchmarkError("\(requested): templates file is empty") }
            for l in lines where !l.contains("{}") {
                throw BenchmarkError("\(requested): template '\(l)' has no {} for the class name")
            }
            return lines
        }
        let known = ["photo", "continual_clip", "rapf"] + table.keys.filter { !methodSets.contains($0) }.sorted()
        throw BenchmarkError("unknown template set '\(requested)' (known: \(known.joined(separator: ", ")), "
                             + "continual_clip.<dataset>, rapf.<dataset>, or a file with one template per line)")
    }

    // MARK: - Loading

    /// The folder `root` (or `defaultRoot`) as a URL; throws for `folder` without a root.
    public func resolvedRoot(_ root: URL?) throws -> URL {
        if let root { return root }
        guard let d = defaultRoot else { throw BenchmarkError("dataset '\(name)' has no default location: pass --root") }
        return URL(fileURLWithPath: d)
    }

    /// Reads one split with the right reader. For `folder`: `root/train|test/<class>/…` when both split
    /// folders exist, otherwise the whole flat `root/<class>/…` tree is the requested split.
    public func load(split: DatasetSplit, root: URL? = nil) throws -> LabeledSamples {
        let dir = try resolvedRoot(root)
        switch name {
        case "cifar10": return try CIFARReader.load(.cifar10, split: split, from: dir)
        case "cifar100": return try CIFARReader.load(.cifar100, split: split, from: dir)
        case "mnist": return try MNISTReader.load(.mnist, split: split, from: dir)
        case "fashion-mnist": return try MNISTReader.load(.fashionMNIST, split: split, from: dir)
        case "imagenet100": return try ImageNet100Reader.load(split: split, root: dir)
        case "imagenet-r": return try ImageNetRReader.load(split: split, root: dir)
        case "tinyimagenet": return try TinyImageNetReader.load(split: split, root: dir)
        case "cub200": return try CUB200Reader.load(split: split, root: dir)
        default:
            let hasSplits = ReaderFiles.isDirectory(dir.appendingPathComponent("train"))
                && ReaderFiles.isDirectory(dir.appendingPathComponent("test"))
            var samples = try ImageFolderReader.load(root: dir, split: hasSplits ? split : nil, dataset: "folder")
            samples.split = split
            return samples
        }
    }

    /// Class names for prompts and caches: the bundled list when there is one (prompt spelling, e.g.
    /// underscores kept), else what the reader found. TinyImageNet keeps the reader's names (they follow the
    /// archive's `wnids.txt`).
    public func classNames(for samples: LabeledSamples) throws -> [String] {
        if name == "tinyimagenet", let n = samples.classNames { return n }
        if let n = try classNames() { return n }
        if let n = samples.classNames { return n }
        return (0..<samples.classCount).map(String.init)
    }

    // MARK: - Bundled JSON

    enum TemplateEntry: Decodable {
        case list([String])
        case byDataset([String: [String]])
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let l = try? c.decode([String].self) { self = .list(l) } else { self = .byDataset(try c.decode([String: [String]].self)) }
        }
    }

    static func resourceURL(_ name: String) throws -> URL {
        let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Resources")
            ?? Bundle.module.resourceURL?.appendingPathComponent("Resources/\(name).json")
        guard let url, ReaderFiles.isFile(url) else {
            throw BenchmarkError("Resources/\(name).json: not found (a list bundled with the Datasets module)")
        }
        return url
    }

    static func bundledClassOrders() throws -> [String: [Int]] {
        let url = try resourceURL("class_orders")
        do { return try JSONDecoder().decode([String: [Int]].self, from: Data(contentsOf: url)) } catch {
            throw BenchmarkError("\(url.path): cannot read class orders (\(error))")
        }
    }

    static func bundledTemplates() throws -> [String: TemplateEntry] {
        let url = try resourceURL("templates")
        do { return try JSONDecoder().decode([String: TemplateEntry].self, from: Data(contentsOf: url)) } catch {
            throw BenchmarkError("\(url.path): cannot read templates (\(error))")
        }
    }
}
