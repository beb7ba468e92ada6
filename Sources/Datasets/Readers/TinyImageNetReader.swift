// TinyImageNet-200 as distributed (tiny-imagenet-200.zip, extracted):
//   wnids.txt                              label i = line i (continuum's order, not wnid-sorted)
//   train/<wnid>/images/*.JPEG
//   val/images/*.JPEG + val/val_annotations.txt   (file<TAB>wnid<TAB>x0<TAB>y0<TAB>x1<TAB>y1)

import Foundation

public enum TinyImageNetReader {
    /// Reads `train/` (split `.train`) or `val/` (split `.test`). `root` is `tiny-imagenet-200/` or its parent.
    /// Ids are paths relative to `tiny-imagenet-200/`, e.g. `val/images/val_0.JPEG`.
    public static func load(split: DatasetSplit, root: URL) throws -> LabeledSamples {
        let dir = ReaderFiles.isFile(root.appendingPathComponent("wnids.txt"))
            ? root : root.appendingPathComponent("tiny-imagenet-200")
        let wnidsURL = dir.appendingPathComponent("wnids.txt")
        let wnids = try ReaderFiles.lines(of: wnidsURL, expected: "TinyImageNet wnids.txt (one wnid per line, "
                                              + "label i = line i), <root>/tiny-imagenet-200/wnids.txt").map(\.text)
        var labelOf: [String: Int] = [:]
        for (i, w) in wnids.enumerated() {
            guard labelOf[w] == nil else {
                throw DatasetError.malformed(path: wnidsURL.path, reason: "wnid \(w) is listed twice")
            }
            labelOf[w] = i
        }
        let names = ReaderResources.classNames(forWnids: wnids, dataset: "tinyimagenet")
        var list = FolderSampleList()
        switch split {
        case .train:
            let trainDir = dir.appendingPathComponent("train")
            try ReaderFiles.requireDirectory(trainDir, expected: "TinyImageNet train folder, train/<wnid>/images/*.JPEG")
            for (label, wnid) in wnids.enumerated() {
                let images = trainDir.appendingPathComponent(wnid).appendingPathComponent("images")
                for f in try ReaderFiles.imageFiles(in: images, expected: "TinyImageNet train images of class \(wnid), "
                                                    + "train/<wnid>/images/*.JPEG") {
                    list.add(id: "train/\(wnid)/images/\(f)", label: label, url: images.appendingPathComponent(f))
                }
            }
        case .test:
            let valDir = dir.appendingPathComponent("val")
            let imagesDir = valDir.appendingPathComponent("images")
            let annotationsURL = valDir.appendingPathComponent("val_annotations.txt")
            let files = try ReaderFiles.imageFiles(in: imagesDir, expected: "TinyImageNet validation images, "
                                                   + "val/images/*.JPEG")
            var wnidOf: [String: Int] = [:]
            for (number, text) in try ReaderFiles.lines(of: annotationsURL, expected: "TinyImageNet "
                                                        + "val_annotations.txt (file<TAB>wnid<TAB>bbox)") {
                let fields = text.split(separator: "\t", omittingEmptySubsequences: false)
                guard fields.count >= 2 else {
                    throw DatasetError.malformed(path: annotationsURL.path,
                                                 reason: "line \(number) is not tab separated 'file<TAB>wnid...'")
                }
                guard let label = labelOf[String(fields[1])] else {
                    throw DatasetError.unknownClass(path: annotationsURL.path, line: number, name: String(fields[1]))
                }
                wnidOf[String(fields[0])] = label
            }
            let present = Set(files)
            if let missing = wnidOf.keys.sorted(by: ReaderFiles.byteOrderLess).first(where: { !present.contains($0) }) {
                throw DatasetError.missingFile(path: imagesDir.appendingPathComponent(missing).path,
                                               expected: "image named in \(annotationsURL.path)")
            }
            for f in files {
                guard let label = wnidOf[f] else {
                    throw DatasetError.malformed(path: annotationsURL.path, reason: "no annotation for val/images/\(f)")
                }
                list.add(id: "val/images/\(f)", label: label, url: imagesDir.appendingPathComponent(f))
            }
        }
        return try list.finish(dataset: "tinyimagenet", split: split, classNames: names, source: dir,
                               emptyWhat: "TinyImageNet \(split == .train ? "train" : "val") images")
    }
}
