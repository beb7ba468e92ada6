import Foundation
import Testing
@testable import Datasets

@Suite struct FolderReaderTests {
    // MARK: ImageNet-100

    @Test func imageNet100UsesTheBundledWnidOrder() throws {
        let wnids = try ReaderResources.wnids("imagenet100")
        #expect(wnids.count == 100 && wnids.first == "n01440764" && wnids.last == "n01855672")
        try ReaderFixtures.withTempDirectory { root in
            for (i, w) in wnids.enumerated() {
                try ReaderFixtures.writeFile(root, "train/\(w)/\(w)_2.JPEG")
                try ReaderFixtures.writeFile(root, "train/\(w)/\(w)_10.JPEG")
                try ReaderFixtures.writeFile(root, "val/\(w)/ILSVRC2012_val_\(ReaderFiles.padded(100 - i, 8)).JPEG")
            }
            try ReaderFixtures.writeFile(root, "train/n01440764/notes.txt")        // not an image
            try ReaderFixtures.writeFile(root, "train/n01440764/.hidden.JPEG")     // hidden
            try ReaderFixtures.writeFile(root, "train/n99999999/extra.JPEG")       // class outside ImageNet-100
            let train = try ImageNet100Reader.load(split: .train, root: root)
            #expect(train.count == 200)
            #expect(Array(train.ids.prefix(2)) == ["train/n01440764/n01440764_10.JPEG", "train/n01440764/n01440764_2.JPEG"])
            #expect(Array(train.labels.prefix(4)) == [0, 0, 1, 1] && train.labels.last == 99)
            #expect(train.classNames?.first == "tench" && train.classNames?.count == 100)
            #expect(train.fileURL(at: 0) == root.appendingPathComponent("train/n01440764/n01440764_10.JPEG"))
            let val = try ImageNet100Reader.load(split: .test, root: root)
            #expect(val.count == 100 && val.labels == Array(0 ..< 100) && val.dataset == "imagenet100")
            #expect(val.ids.first == "val/n01440764/ILSVRC2012_val_00000100.JPEG")

            try FileManager.default.removeItem(at: root.appendingPathComponent("val/\(wnids[42])"))
            let error = #expect(throws: DatasetError.self) { try ImageNet100Reader.load(split: .test, root: root) }
            guard case let .missingDirectory(path, expected)? = error else {
                Issue.record("expected .missingDirectory, got \(String(describing: error))")
                return
            }
            #expect(path == root.appendingPathComponent("val/\(wnids[42])").path && expected.contains("label 42"))
        }
    }

    @Test func imageNet100MissingSplitFolder() throws {
        try ReaderFixtures.withTempDirectory { root in
            let error = #expect(throws: DatasetError.self) { try ImageNet100Reader.load(split: .test, root: root) }
            #expect(error?.description.hasPrefix("\(root.appendingPathComponent("val").path): folder not found") == true)
        }
    }

    // MARK: ImageNet-R

    @Test func imageNetRWithRAPFSplitList() throws {
        let wnids = try ReaderResources.wnids("imagenet_r")
        #expect(wnids.count == 200 && wnids == wnids.sorted())
        try ReaderFixtures.withTempDirectory { root in
            let (a, b, c) = (wnids[0], wnids[1], wnids[199])
            for path in ["\(a)/art_0.jpg", "\(a)/sketch_1.jpg", "\(b)/toy_0.jpg", "\(c)/cartoon_3.jpg", "\(c)/misc_0.jpg"] {
                try ReaderFixtures.writeFile(root, "imagenet-r/\(path)")
            }
            try ReaderFixtures.writeText(root, "imgr_train_test_split.txt",
                          "train\n\(c)/misc_0.jpg\n\(a)/sketch_1.jpg\n\(b)/toy_0.jpg\ntest\n\(c)/cartoon_3.jpg\n\(a)/art_0.jpg\n")
            let train = try ImageNetRReader.load(split: .train, root: root)
            #expect(train.ids == ["\(a)/sketch_1.jpg", "\(b)/toy_0.jpg", "\(c)/misc_0.jpg"])
            #expect(train.labels == [0, 1, 199] && train.classNames?.first == "goldfish")
            let test = try ImageNetRReader.load(split: .test, root: root.appendingPathComponent("imagenet-r"),
                                                splitList: root.appendingPathComponent("imgr_train_test_split.txt"))
            #expect(test.ids == ["\(a)/art_0.jpg", "\(c)/cartoon_3.jpg"] && test.labels == [0, 199])

            // Unknown wnid, missing listed file, missing list.
            try ReaderFixtures.writeText(root, "bad.txt", "train\nn00000001/x.jpg\ntest\n")
            let error = #expect(throws: DatasetError.self) {
                try ImageNetRReader.load(split: .train, root: root, splitList: root.appendingPathComponent("bad.txt"))
            }
            #expect(error == .unknownClass(path: root.appendingPathComponent("bad.txt").path, line: 2, name: "n00000001"))
            try ReaderFixtures.writeText(root, "gone.txt", "train\n\(a)/gone.jpg\ntest\n")
            let error2 = #expect(throws: DatasetError.self) {
                try ImageNetRReader.load(split: .train, root: root, splitList: root.appendingPathComponent("gone.txt"))
            }
            #expect(error2?.description.hasPrefix(root.appendingPathComponent("imagenet-r/\(a)/gone.jpg").path) == true)
            try FileManager.default.removeItem(at: root.appendingPathComponent("imgr_train_test_split.txt"))
            let error3 = #expect(throws: DatasetError.self) { try ImageNetRReader.load(split: .train, root: root) }
            guard case let .missingFile(path, _)? = error3 else {
                Issue.record("expected .missingFile, got \(String(describing: error3))")
                return
            }
            #expect(path == root.appendingPathComponent("imgr_train_test_split.txt").path)
        }
    }

    @Test func imageNetRPreSplitFolders() throws {
        let wnids = try ReaderResources.wnids("imagenet_r")
        try ReaderFixtures.withTempDirectory { root in
            try ReaderFixtures.writeFile(root, "train/\(wnids[5])/a.jpg")
            try ReaderFixtures.writeFile(root, "test/\(wnids[3])/b.jpg")
            let test = try ImageNetRReader.load(split: .test, root: root)
            #expect(test.ids == ["test/\(wnids[3])/b.jpg"] && test.labels == [3])
        }
    }

    // MARK: TinyImageNet

    @Test func tinyImageNetLabelsFollowWnidsTxt() throws {
        try ReaderFixtures.withTempDirectory { parent in
            let root = parent.appendingPathComponent("tiny-imagenet-200")
            let wnids = ["n04540053", "n02124075", "n04067472"]  // deliberately not sorted
            try ReaderFixtures.writeText(root, "wnids.txt", wnids.joined(separator: "\n") + "\n")
            for w in wnids {
                try ReaderFixtures.writeFile(root, "train/\(w)/images/\(w)_0.JPEG")
                try ReaderFixtures.writeFile(root, "train/\(w)/images/\(w)_1.JPEG")
                try ReaderFixtures.writeText(root, "train/\(w)/\(w)_boxes.txt", "")
            }
            try ReaderFixtures.writeFile(root, "val/images/val_0.JPEG")
            try ReaderFixtures.writeFile(root, "val/images/val_1.JPEG")
            try ReaderFixtures.writeFile(root, "val/images/val_10.JPEG")
            try ReaderFixtures.writeText(root, "val/val_annotations.txt",
                          "val_0.JPEG\tn02124075\t0\t1\t2\t3\nval_1.JPEG\tn04540053\t0\t0\t9\t9\nval_10.JPEG\tn04067472\t1\t1\t5\t5\n")
            let train = try TinyImageNetReader.load(split: .train, root: parent)
            #expect(train.count == 6)
            #expect(train.ids.first == "train/n02124075/images/n02124075_0.JPEG" && train.labels.first == 1)
            #expect(train.labels == [1, 1, 2, 2, 0, 0])
            #expect(train.classNames?[1] == "Egyptian Mau")  // bundled name of n02124075
            let val = try TinyImageNetReader.load(split: .test, root: root)
            #expect(val.ids == ["val/images/val_0.JPEG", "val/images/val_1.JPEG", "val/images/val_10.JPEG"])
            #expect(val.labels == [1, 0, 2])

            try ReaderFixtures.writeFile(root, "val/images/val_2.JPEG")
            let error = #expect(throws: DatasetError.self) { try TinyImageNetReader.load(split: .test, root: parent) }
            #expect(error?.description.contains("no annotation for val/images/val_2.JPEG") == true)
            try FileManager.default.removeItem(at: root.appendingPathComponent("val/images/val_2.JPEG"))
            try FileManager.default.removeItem(at: root.appendingPathComponent("val/images/val_10.JPEG"))
            let error2 = #expect(throws: DatasetError.self) { try TinyImageNetReader.load(split: .test, root: parent) }
            #expect(error2?.description.hasPrefix(root.appendingPathComponent("val/images/val_10.JPEG").path) == true)
        }
    }

    @Test func tinyImageNetMissingWnids() throws {
        try ReaderFixtures.withTempDirectory { parent in
            let error = #expect(throws: DatasetError.self) { try TinyImageNetReader.load(split: .train, root: parent) }
            guard case let .missingFile(path, _)? = error else {
                Issue.record("expected .missingFile, got \(String(describing: error))")
                return
            }
            #expect(path == parent.appendingPathComponent("tiny-imagenet-200/wnids.txt").path)
        }
    }

    // MARK: CUB-200-2011

    @Test func cub200SplitsAndZeroBasedLabels() throws {
        try ReaderFixtures.withTempDirectory { parent in
            let root = parent.appendingPathComponent("CUB_200_2011")
            try ReaderFixtures.writeText(root, "classes.txt", "1 001.Black_footed_Albatross\n2 002.Laysan_Albatross\n3 003.Sooty_Albatross\n")
            let images = ["001.Black_footed_Albatross/a_1.jpg", "001.Black_footed_Albatross/a_2.jpg",
                          "002.Laysan_Albatross/b_1.jpg", "003.Sooty_Albatross/c_1.jpg", "003.Sooty_Albatross/c_2.jpg"]
            try ReaderFixtures.writeText(root, "images.txt", images.enumerated().map { "\($0 + 1) \($1)" }.joined(separator: "\n"))
            try ReaderFixtures.writeText(root, "image_class_labels.txt", "1 1\n2 1\n3 2\n4 3\n5 3\n")
            try ReaderFixtures.writeText(root, "train_test_split.txt", "1 1\n2 0\n3 1\n4 0\n5 1\n")
            for path in images { try ReaderFixtures.writeFile(root, "images/\(path)") }

            let train = try CUB200Reader.load(split: .train, root: parent)
            #expect(train.ids == ["images/\(images[0])", "images/\(images[2])", "images/\(images[4])"])
            #expect(train.labels == [0, 1, 2])
            #expect(train.classNames == ["Black_footed_Albatross", "Laysan_Albatross", "Sooty_Albatross"])
            let test = try CUB200Reader.load(split: .test, root: root)
            #expect(test.labels == [0, 2] && test.dataset == "cub200")

            try FileManager.default.removeItem(at: root.appendingPathComponent("images/\(images[3])"))
            let error = #expect(throws: DatasetError.self) { try CUB200Reader.load(split: .test, root: root) }
            #expect(error?.description.hasPrefix(root.appendingPathComponent("images/\(images[3])").path) == true)
            try FileManager.default.removeItem(at: root.appendingPathComponent("train_test_split.txt"))
            let error2 = #expect(throws: DatasetError.self) { try CUB200Reader.load(split: .test, root: root) }
            guard case let .missingFile(path, expected)? = error2 else {
                Issue.record("expected .missingFile, got \(String(describing: error2))")
                return
            }
            #expect(path == root.appendingPathComponent("train_test_split.txt").path && expected.contains("train_test_split"))
        }
    }

    @Test func cub200MissingRootNamesImagesTxt() throws {
        try ReaderFixtures.withTempDirectory { parent in
            let error = #expect(throws: DatasetError.self) { try CUB200Reader.load(split: .train, root: parent) }
            #expect(error?.description.hasPrefix(parent.appendingPathComponent("CUB_200_2011/images.txt").path) == true)
        }
    }

    // MARK: Generic image folders

    @Test func genericFlatFolderSortsByteWise() throws {
        try ReaderFixtures.withTempDirectory { root in
            // "e\u{301}b" (decomposed) sorts before "\u{e9}a" byte-wise, after it in String's canonical order.
            for path in ["zebra/b.jpg", "zebra/B.png", "Apple/x.jpeg", "Apple/sub/y.JPG", "émeu/z.webp",
                         "zebra/readme.md", "zebra/.DS_Store.jpg", "zebra/\u{e9}a.jpg", "zebra/e\u{301}b.jpg"] {
                try ReaderFixtures.writeFile(root, path)
            }
            let all = try ImageFolderReader.load(root: root, split: nil)
            #expect(all.classNames == ["Apple", "zebra", "émeu"])  // byte-wise: uppercase < lowercase < non-ASCII
            #expect(all.ids == ["Apple/sub/y.JPG", "Apple/x.jpeg", "zebra/B.png", "zebra/b.jpg", "zebra/e\u{301}b.jpg",
                                "zebra/\u{e9}a.jpg", "émeu/z.webp"])
            #expect(all.ids[4].unicodeScalars.count == 13)  // still decomposed
            #expect(all.labels == [0, 0, 1, 1, 1, 1, 2] && all.split == nil)

            let error = #expect(throws: DatasetError.self) { try ImageFolderReader.load(root: root, split: .train) }
            guard case let .missingDirectory(path, _)? = error else {
                Issue.record("expected .missingDirectory, got \(String(describing: error))")
                return
            }
            #expect(path == root.appendingPathComponent("train").path)
        }
    }

    @Test func genericSplitFoldersShareLabels() throws {
        try ReaderFixtures.withTempDirectory { root in
            try ReaderFixtures.writeFile(root, "train/cat/1.jpg")
            try ReaderFixtures.writeFile(root, "train/dog/2.jpg")
            try ReaderFixtures.writeFile(root, "test/bird/3.jpg")
            try ReaderFixtures.writeFile(root, "test/dog/4.jpg")
            let train = try ImageFolderReader.load(root: root, split: .train, dataset: "pets")
            #expect(train.classNames == ["bird", "cat", "dog"] && train.labels == [1, 2] && train.dataset == "pets")
            let test = try ImageFolderReader.load(root: root, split: .test)
            #expect(test.ids == ["test/bird/3.jpg", "test/dog/4.jpg"] && test.labels == [0, 2])
        }
    }

    @Test func genericSplitList() throws {
        try ReaderFixtures.withTempDirectory { root in
            for path in ["b/1.jpg", "a/2.jpg", "a/3.jpg", "c/deep/4.png"] { try ReaderFixtures.writeFile(root, path) }
            let list = root.appendingPathComponent("split.txt")
            try ReaderFixtures.writeText(root, "split.txt", "train\tb/1.jpg\ntest a/2.jpg\ntrain   a/3.jpg\ntest\tc/deep/4.png\n")
            let train = try ImageFolderReader.load(root: root, split: .train, splitList: list)
            #expect(train.ids == ["a/3.jpg", "b/1.jpg"] && train.labels == [0, 1])
            let test = try ImageFolderReader.load(root: root, split: .test, splitList: list)
            #expect(test.ids == ["a/2.jpg", "c/deep/4.png"] && test.labels == [0, 2])
            #expect(test.classNames == ["a", "b", "c"])

            try ReaderFixtures.writeText(root, "split.txt", "train b/1.jpg\nvalidation a/2.jpg\n")
            let error = #expect(throws: DatasetError.self) {
                try ImageFolderReader.load(root: root, split: .train, splitList: list)
            }
            #expect(error?.description.contains("line 2") == true)
            try ReaderFixtures.writeText(root, "split.txt", "train ../outside/1.jpg\n")
            #expect(throws: DatasetError.self) { try ImageFolderReader.load(root: root, split: .train, splitList: list) }
            try ReaderFixtures.writeText(root, "split.txt", "train b/missing.jpg\n")
            let error3 = #expect(throws: DatasetError.self) {
                try ImageFolderReader.load(root: root, split: .train, splitList: list)
            }
            #expect(error3?.description.hasPrefix(root.appendingPathComponent("b/missing.jpg").path) == true)
        }
    }

    @Test func subsetKeepsParallelArrays() throws {
        try ReaderFixtures.withTempDirectory { root in
            for path in ["a/1.jpg", "b/2.jpg", "c/3.jpg"] { try ReaderFixtures.writeFile(root, path) }
            let all = try ImageFolderReader.load(root: root, split: nil)
            let picked = all.subset(all.indices(withLabels: [0, 2]))
            #expect(picked.ids == ["a/1.jpg", "c/3.jpg"] && picked.labels == [0, 2])
            #expect(picked.sample(at: 1) == DatasetSample(id: "c/3.jpg", label: 2,
                                                          content: .file(root.appendingPathComponent("c/3.jpg"))))
        }
    }
}
