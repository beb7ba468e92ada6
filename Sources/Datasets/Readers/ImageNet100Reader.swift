// ImageNet-100 as used by Continual-CLIP and RAPF: the first 100 ImageNet-1k classes (wnid-sorted),
// read from the ImageNet-1k folders `<root>/train/<wnid>/*.JPEG` and `<root>/val/<wnid>/*.JPEG`.

import Foundation

public enum ImageNet100Reader {
    /// Reads `train/` (split `.train`) or `val/` (split `.test`) under `root`.
    /// Label `i` = line `i` of `Resources/wnids/imagenet100.txt` (n01440764 … n01855672).
    /// Ids are paths relative to `root`, e.g. `val/n01440764/ILSVRC2012_val_00000293.JPEG`.
    public static func load(split: DatasetSplit, root: URL) throws -> LabeledSamples {
        let wnids = try ReaderResources.wnids("imagenet100")
        let folder = split == .train ? "train" : "val"
        let splitDir = root.appendingPathComponent(folder)
        try ReaderFiles.requireDirectory(splitDir, expected: "ImageNet-1k \(folder) folder with one sub-folder per "
                                             + "wnid, <root>/\(folder)/<wnid>/*.JPEG")
        var list = FolderSampleList()
        for (label, wnid) in wnids.enumerated() {
            let dir = splitDir.appendingPathComponent(wnid)
            let files = try ReaderFiles.imageFiles(in: dir, expected: "ImageNet-100 class folder of label \(label), "
                                                   + "<root>/\(folder)/<wnid>/*.JPEG; \(folder)/ must be sorted into wnid folders")
            guard !files.isEmpty else {
                throw DatasetError.empty(path: dir.path, what: "no images in the folder of class \(wnid)")
            }
            for f in files {
                list.add(id: "\(folder)/\(wnid)/\(f)", label: label, url: dir.appendingPathComponent(f))
            }
        }
        return try list.finish(dataset: "imagenet100", split: split,
                               classNames: try? ReaderResources.classNames("imagenet100"),
                               source: root, emptyWhat: "ImageNet-100 \(folder)")
    }
}
