// Generic class-per-folder datasets (torchvision ImageFolder style), three layouts:
//   1. split list:  lines "train<TAB or spaces>class/…/image.jpg" / "test …", paths relative to `root`
//   2. split folders: root/train/<class>/…  and  root/test/<class>/…
//   3. flat: root/<class>/…  (no split; `split` must be nil)
// Classes are sorted byte-wise by name, label = index. Images are found recursively by extension.

import Foundation

public enum ImageFolderReader {
    /// - Parameters:
    ///   - split: the split to read; nil reads a flat folder, or every line of a split list.
    ///   - splitList: a split list file (layout 1). Without it, layout 2 is used when both `root/train` and
    ///     `root/test` are folders, layout 3 otherwise.
    ///   - dataset: the key stored in `LabeledSamples.dataset`.
    /// Classes: in layout 1 the first path components of every list line (both splits), in layout 2 the
    /// sub-folders of `train/` and `test/` together, so labels agree between the splits.
    /// Ids are paths relative to `root`.
    public static func load(root: URL, split: DatasetSplit?, splitList: URL? = nil,
                            dataset: String = "imagefolder") throws -> LabeledSamples {
        try ReaderFiles.requireDirectory(root, expected: "image folder root, <root>/<class>/<image> or "
                                             + "<root>/train|test/<class>/<image>")
        if let splitList { return try loadList(root: root, split: split, listURL: splitList, dataset: dataset) }
        let trainDir = root.appendingPathComponent("train")
        let testDir = root.appendingPathComponent("test")
        if ReaderFiles.isDirectory(trainDir) && ReaderFiles.isDirectory(testDir) {
            guard let split else {
                throw DatasetError.malformed(path: root.path, reason: "has train/ and test/ folders: choose a split")
            }
            let classes = Set(try ReaderFiles.subdirectories(of: trainDir, expected: "train/<class>/ folders")
                + ReaderFiles.subdirectories(of: testDir, expected: "test/<class>/ folders"))
                .sorted(by: ReaderFiles.byteOrderLess)
            let splitDir = split == .train ? trainDir : testDir
            return try collect(root: root, base: splitDir, prefix: "\(split.rawValue)/", classes: classes,
                               split: split, dataset: dataset)
        }
        if let split {
            throw DatasetError.missingDirectory(path: root.appendingPathComponent(split.rawValue).path,
                                                expected: "split folders <root>/train/<class>/ and <root>/test/<class>/ "
                                                    + "(or pass a split list, or no split for a flat <root>/<class>/ folder)")
        }
        let classes = try ReaderFiles.subdirectories(of: root, expected: "<root>/<class>/ folders")
        return try collect(root: root, base: root, prefix: "", classes: classes, split: nil, dataset: dataset)
    }

    private static func collect(root: URL, base: URL, prefix: String, classes: [String], split: DatasetSplit?,
                                dataset: String) throws -> LabeledSamples {
        guard !classes.isEmpty else {
            throw DatasetError.missingDirectory(path: base.appendingPathComponent("<class>").path,
                                                expected: "one sub-folder per class holding its images")
        }
        var list = FolderSampleList()
        for (label, name) in classes.enumerated() {
            let dir = base.appendingPathComponent(name)
            guard ReaderFiles.isDirectory(dir) else { continue }  // class only present in the other split
            for relative in try imagesRecursively(in: dir) {
                list.add(id: "\(prefix)\(name)/\(relative)", label: label, url: dir.appendingPathComponent(relative))
            }
        }
        return try list.finish(dataset: dataset, split: split, classNames: classes, source: root,
                               emptyWhat: "no image files under \(base.path)/<class>/")
    }

    /// Every image file below `root`, unlabelled (label 0), ids relative to `root` in byte-wise order: images to
    /// classify (`clipcl predict --folder`), in any layout.
    public static func unlabelledImages(in root: URL) throws -> LabeledSamples {
        try ReaderFiles.requireDirectory(root, expected: "a folder of images")
        var list = FolderSampleList()
        for relative in try imagesRecursively(in: root) { list.add(id: relative, label: 0, url: root.appendingPathComponent(relative)) }
        return try list.finish(dataset: "images", split: nil, classNames: nil, source: root, emptyWhat: "no image files under \(root.path)")
    }

    /// Image files below `dir` (relative paths), skipping hidden files and folders.
    private static func imagesRecursively(in dir: URL) throws -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: dir.path) else {
            throw DatasetError.unreadable(path: dir.path, reason: "cannot list folder")
        }
        var out: [String] = []
        while let item = walker.nextObject() as? String {
            let parts = item.split(separator: "/")
            if parts.contains(where: { $0.hasPrefix(".") }) { continue }
            if ReaderFiles.hasImageExtension(item) && ReaderFiles.isFile(dir.appendingPathComponent(item)) {
                out.append(item)
            }
        }
        return out
    }

    private static func loadList(root: URL, split: DatasetSplit?, listURL: URL,
                                 dataset: String) throws -> LabeledSamples {
        var entries: [(split: DatasetSplit, path: String, line: Int)] = []
        for (number, text) in try ReaderFiles.lines(of: listURL, expected: "split list ('train|test<TAB>class/image' lines)") {
            guard let gap = text.firstIndex(where: { $0 == " " || $0 == "\t" }),
                  let s = DatasetSplit(rawValue: String(text[..<gap]).lowercased()) else {
                throw DatasetError.malformed(path: listURL.path,
                                             reason: "line \(number) is not 'train|test<TAB or space>relative/path'")
            }
            let path = text[gap...].trimmingCharacters(in: .whitespaces)
            guard ReaderFiles.isSafeRelativePath(path), path.contains("/") else {
                throw DatasetError.malformed(path: listURL.path,
                                             reason: "line \(number): '\(path)' is not a relative 'class/image' path")
            }
            entries.append((s, path, number))
        }
        let classes = Set(entries.map { String($0.path.split(separator: "/")[0]) }).sorted(by: ReaderFiles.byteOrderLess)
        let labelOf = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        let index = ReaderDirectoryIndex(root: root)
        var list = FolderSampleList()
        for e in entries where split == nil || e.split == split {
            guard index.contains(e.path) else {
                throw DatasetError.missingFile(path: root.appendingPathComponent(e.path).path,
                                               expected: "image listed on line \(e.line) of \(listURL.path)")
            }
            list.add(id: e.path, label: labelOf[String(e.path.split(separator: "/")[0])]!,
                     url: root.appendingPathComponent(e.path))
        }
        return try list.finish(dataset: dataset, split: split, classNames: classes, source: root,
                               emptyWhat: "no '\(split?.rawValue ?? "any")' lines in \(listURL.path)")
    }
}
