// CUB-200-2011 as distributed (CUB_200_2011.tgz, extracted):
//   images.txt            "<image id> <path under images/>"
//   image_class_labels.txt "<image id> <class id 1..200>"
//   train_test_split.txt  "<image id> <1 = train, 0 = test>"
//   classes.txt           "<class id> <NNN.Name>"
//   images/<NNN.Name>/*.jpg

import Foundation

public enum CUB200Reader {
    /// `root` is `CUB_200_2011/` or its parent. Label = class id − 1 (folder `001.*` → 0).
    /// Ids are paths relative to `CUB_200_2011/`, e.g. `images/001.Black_footed_Albatross/….jpg`.
    /// Class names come from `classes.txt` without the `NNN.` prefix.
    public static func load(split: DatasetSplit, root: URL) throws -> LabeledSamples {
        let dir = ReaderFiles.isFile(root.appendingPathComponent("images.txt"))
            ? root : root.appendingPathComponent("CUB_200_2011")
        let imagesURL = dir.appendingPathComponent("images.txt")
        let labelsURL = dir.appendingPathComponent("image_class_labels.txt")
        let splitURL = dir.appendingPathComponent("train_test_split.txt")
        let classesURL = dir.appendingPathComponent("classes.txt")

        let paths = try pairs(imagesURL, expected: "CUB-200-2011 images.txt ('<id> <path>' lines), "
                                  + "<root>/CUB_200_2011/images.txt")
        let classOf = try pairs(labelsURL, expected: "CUB-200-2011 image_class_labels.txt ('<id> <class>' lines)")
        let isTrain = try pairs(splitURL, expected: "CUB-200-2011 train_test_split.txt ('<id> <0|1>' lines)")
        let classes = try ReaderFiles.lines(of: classesURL, expected: "CUB-200-2011 classes.txt ('<id> <NNN.Name>')")
        var classNames: [String] = []
        for (number, text) in classes {
            let parts = text.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, Int(parts[0]) == classNames.count + 1 else {
                throw DatasetError.malformed(path: classesURL.path, reason: "line \(number) is not '<next id> <name>'")
            }
            let name = parts[1]
            let stripped = name.firstIndex(of: ".").map { name[name.index(after: $0)...] } ?? name
            classNames.append(String(stripped))
        }

        let imagesDir = dir.appendingPathComponent("images")
        try ReaderFiles.requireDirectory(imagesDir, expected: "CUB-200-2011 images folder, images/<NNN.Name>/*.jpg")
        let index = ReaderDirectoryIndex(root: imagesDir)
        var list = FolderSampleList()
        for (id, entry) in paths.values.sorted(by: { $0.key < $1.key }) {
            let (path, line) = entry
            guard let (classText, _) = classOf.values[id], let classID = Int(classText),
                  classID >= 1, classID <= classNames.count else {
                throw DatasetError.malformed(path: labelsURL.path,
                                             reason: "image id \(id) has no class id in 1...\(classNames.count)")
            }
            guard let (flag, _) = isTrain.values[id], flag == "0" || flag == "1" else {
                throw DatasetError.malformed(path: splitURL.path, reason: "image id \(id) has no 0/1 split flag")
            }
            guard (flag == "1") == (split == .train) else { continue }
            guard ReaderFiles.isSafeRelativePath(path) else {
                throw DatasetError.malformed(path: imagesURL.path, reason: "line \(line): path '\(path)' leaves images/")
            }
            guard index.contains(path) else {
                throw DatasetError.missingFile(path: imagesDir.appendingPathComponent(path).path,
                                               expected: "image listed on line \(line) of \(imagesURL.path)")
            }
            list.add(id: "images/\(path)", label: classID - 1, url: imagesDir.appendingPathComponent(path))
        }
        return try list.finish(dataset: "cub200", split: split, classNames: classNames, source: dir,
                               emptyWhat: "CUB-200-2011 \(split.rawValue) images")
    }

    /// "<int id> <value>" lines → id → (value, line number).
    private static func pairs(_ url: URL, expected: String) throws -> (values: [Int: (String, Int)], url: URL) {
        var out: [Int: (String, Int)] = [:]
        for (number, text) in try ReaderFiles.lines(of: url, expected: expected) {
            let parts = text.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let id = Int(parts[0]) else {
                throw DatasetError.malformed(path: url.path, reason: "line \(number) is not '<id> <value>'")
            }
            guard out[id] == nil else {
                throw DatasetError.malformed(path: url.path, reason: "line \(number): id \(id) appears twice")
            }
            out[id] = (String(parts[1]).trimmingCharacters(in: .whitespaces), number)
        }
        return (out, url)
    }
}
