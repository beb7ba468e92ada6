// ImageNet-R (200 classes) with RAPF's fixed train/test split list.
//
// Layout: `<root>/imagenet-r/<wnid>/*.jpg` (or `root` being the `imagenet-r` folder itself), and the list
// `imgr_train_test_split.txt`: a `train` line, then `wnid/file.jpg` lines, then a `test` line, then lines.
// Also accepted: RAPF's pre-split copy `<root>/train/<wnid>/*.jpg` + `<root>/test/<wnid>/*.jpg`.

import Foundation

public enum ImageNetRReader {
    public static let splitListName = "imgr_train_test_split.txt"

    /// Labels: index of the wnid in `Resources/wnids/imagenet_r.txt` (the 200 wnids, sorted).
    /// Ids: `wnid/file.jpg` (list mode, as in the list) or `train|test/wnid/file.jpg` (pre-split mode).
    /// - Parameter splitList: the split list; default `<root>/imgr_train_test_split.txt`, then the same name
    ///   inside the image folder.
    public static func load(split: DatasetSplit, root: URL, splitList: URL? = nil) throws -> LabeledSamples {
        let wnids = try ReaderResources.wnids("imagenet_r")
        let labelOf = Dictionary(uniqueKeysWithValues: wnids.enumerated().map { ($1, $0) })
        let names = try? ReaderResources.classNames("imagenet_r")

        let nested = root.appendingPathComponent("imagenet-r")
        let imageDir: URL
        if ReaderFiles.isDirectory(nested) {
            imageDir = nested
        } else if wnids.contains(where: { ReaderFiles.isDirectory(root.appendingPathComponent($0)) }) {
            imageDir = root
        } else if splitList == nil, ReaderFiles.isDirectory(root.appendingPathComponent("train")),
                  ReaderFiles.isDirectory(root.appendingPathComponent("test")) {
            return try loadPreSplit(split: split, root: root, wnids: wnids, classNames: names)
        } else {
            throw DatasetError.missingDirectory(path: nested.path, expected: "ImageNet-R images, "
                                                    + "<root>/imagenet-r/<wnid>/*.jpg (or <root>/train|test/<wnid>/)")
        }

        let listURL: URL
        if let splitList {
            listURL = splitList
        } else if ReaderFiles.isFile(imageDir.appendingPathComponent(splitListName)),
                  !ReaderFiles.isFile(root.appendingPathComponent(splitListName)) {
            listURL = imageDir.appendingPathComponent(splitListName)
        } else {
            listURL = root.appendingPathComponent(splitListName)
        }
        let lines = try ReaderFiles.lines(of: listURL, expected: "RAPF ImageNet-R split list ('train' line, "
                                              + "'wnid/file.jpg' lines, 'test' line, lines); pass its path or place it here")
        var section: DatasetSplit?
        var seenHeaders = Set<DatasetSplit>()
        var list = FolderSampleList()
        let index = ReaderDirectoryIndex(root: imageDir)
        for (number, text) in lines {
            if let header = DatasetSplit(rawValue: text.lowercased()) {
                section = header
                seenHeaders.insert(header)
                continue
            }
            guard let current = section else {
                throw DatasetError.malformed(path: listURL.path, reason: "line \(number) comes before the 'train' header")
            }
            guard current == split else { continue }
            let parts = text.split(separator: "/")
            guard parts.count == 2, ReaderFiles.isSafeRelativePath(text) else {
                throw DatasetError.malformed(path: listURL.path, reason: "line \(number) '\(text)' is not 'wnid/file'")
            }
            guard let label = labelOf[String(parts[0])] else {
                throw DatasetError.unknownClass(path: listURL.path, line: number, name: String(parts[0]))
            }
            guard index.contains(text) else {
                throw DatasetError.missingFile(path: imageDir.appendingPathComponent(text).path,
                                               expected: "image listed on line \(number) of \(listURL.path)")
            }
            list.add(id: text, label: label, url: imageDir.appendingPathComponent(text))
        }
        guard seenHeaders.contains(split) else {
            throw DatasetError.malformed(path: listURL.path, reason: "no '\(split.rawValue)' header line")
        }
        return try list.finish(dataset: "imagenet_r", split: split, classNames: names, source: imageDir,
                               emptyWhat: "the '\(split.rawValue)' section of \(listURL.lastPathComponent) is empty")
    }

    private static func loadPreSplit(split: DatasetSplit, root: URL, wnids: [String],
                                     classNames: [String]?) throws -> LabeledSamples {
        let splitDir = root.appendingPathComponent(split.rawValue)
        var list = FolderSampleList()
        for (label, wnid) in wnids.enumerated() {
            let dir = splitDir.appendingPathComponent(wnid)
            guard ReaderFiles.isDirectory(dir) else { continue }  // a random split may leave a class out of test
            for f in try ReaderFiles.imageFiles(in: dir, expected: "ImageNet-R class folder") {
                list.add(id: "\(split.rawValue)/\(wnid)/\(f)", label: label, url: dir.appendingPathComponent(f))
            }
        }
        return try list.finish(dataset: "imagenet_r", split: split, classNames: classNames, source: root,
                               emptyWhat: "no images in \(split.rawValue)/<wnid>/ folders")
    }
}
