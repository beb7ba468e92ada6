import Foundation
import Testing
import TensorKit
@testable import Datasets

@Suite struct CIFARReaderTests {
    private func checksums(_ samples: LabeledSamples) -> [UInt32] {
        guard case let .pixels(batch) = samples.content else { return [] }
        return (0 ..< batch.count).map { ReaderFixtures.hwcChecksum(batch.image(at: $0)) }
    }

    private func check(_ s: LabeledSamples, _ e: ReaderFixtures.SplitExpectation, split: DatasetSplit) {
        #expect(s.labels == e.labels)
        #expect(s.coarseLabels == e.coarse_labels)
        #expect(checksums(s) == e.hwc_checksums)
        #expect(s.ids == (0 ..< e.labels.count).map { "\(split.rawValue)/\(ReaderFiles.padded($0, 5))" })
        if case let .pixels(batch) = s.content {
            #expect(batch.width == 32 && batch.height == 32 && batch.channels == 3)
        } else {
            Issue.record("expected pixels")
        }
    }

    @Test func pythonProtocol2ArchiveLikeTheRealCIFAR10() throws {
        let expected = try ReaderFixtures.expected().cifar10
        let archive = ReaderFixtures.url("cifar-10-python.tar.gz")
        let train = try CIFARReader.load(.cifar10, split: .train, from: archive)
        check(train, expected.train, split: .train)
        #expect(train.count == 10 && train.classNames == expected.class_names && train.source == archive)
        let test = try CIFARReader.load(.cifar10, split: .test, from: archive)
        check(test, expected.test, split: .test)
    }

    @Test func pythonProtocol4ArchiveCIFAR100() throws {
        let expected = try ReaderFixtures.expected().cifar100
        let archive = ReaderFixtures.url("cifar-100-python.tar.gz")
        for (split, e) in [(DatasetSplit.train, expected.train), (.test, expected.test)] {
            let s = try CIFARReader.load(.cifar100, split: split, from: archive)
            check(s, e, split: split)
            #expect(s.classNames == expected.class_names && s.classNames?.count == 100 && s.dataset == "cifar100")
        }
    }

    @Test func extractedFolderParentFolderAndArchiveAgree() throws {
        try ReaderFixtures.withTempDirectory { dir in
            let archive = ReaderFixtures.url("cifar-10-python.tar.gz")
            try ReaderFixtures.extract(archive, into: dir)
            let fromArchive = try CIFARReader.load(.cifar10, split: .train, from: archive)
            let fromFolder = try CIFARReader.load(.cifar10, split: .train,
                                                  from: dir.appendingPathComponent("cifar-10-batches-py"))
            let fromParent = try CIFARReader.load(.cifar10, split: .train, from: dir)
            #expect(fromFolder.source == dir.appendingPathComponent("cifar-10-batches-py"))
            for s in [fromFolder, fromParent] {
                #expect(s.labels == fromArchive.labels && s.content == fromArchive.content && s.ids == fromArchive.ids)
                #expect(s.classNames == fromArchive.classNames)
            }
            // A parent folder holding only the archive.
            let packed = dir.appendingPathComponent("packed")
            try ReaderFixtures.writeFile(packed, "cifar-100-python.tar.gz", try Data(contentsOf: ReaderFixtures.url("cifar-100-python.tar.gz")))
            let s = try CIFARReader.load(.cifar100, split: .test, from: packed)
            #expect(s.labels == (try ReaderFixtures.expected()).cifar100.test.labels)
        }
    }

    /// value(image n, channel c, row y, column x) of the Swift-made binary fixtures.
    private func value(_ n: Int, _ c: Int, _ y: Int, _ x: Int, seed: Int) -> UInt8 {
        UInt8((n * 11 + c * 29 + y * 5 + x * 2 + seed) & 0xFF)
    }

    private func binaryRecords(count: Int, seed: Int, labels: (Int) -> [UInt8]) -> Data {
        var out = Data()
        for n in 0 ..< count {
            out.append(contentsOf: labels(n))
            for c in 0 ..< 3 { for y in 0 ..< 32 { for x in 0 ..< 32 { out.append(value(n, c, y, x, seed: seed)) } } }
        }
        return out
    }

    private func checkHWC(_ s: LabeledSamples, seed: Int) {
        guard case let .pixels(batch) = s.content else {
            Issue.record("expected pixels")
            return
        }
        for n in 0 ..< batch.count {
            let image = Array(batch.image(at: n))
            for (y, x, c) in [(0, 0, 0), (0, 1, 2), (5, 7, 1), (31, 31, 2), (17, 3, 0)] {
                #expect(image[(y * 32 + x) * 3 + c] == value(n, c, y, x, seed: seed), "image \(n) y\(y) x\(x) c\(c)")
            }
        }
    }

    @Test func binaryVersionFolderAndArchive() throws {
        try ReaderFixtures.withTempDirectory { dir in
            let c10 = dir.appendingPathComponent("cifar-10-batches-bin")
            var tar = ReaderTarBuilder()
            for k in 1 ... 5 {
                let data = binaryRecords(count: 2, seed: k) { n in [UInt8((k + n) % 10)] }
                try ReaderFixtures.writeFile(c10, "data_batch_\(k).bin", data)
                tar.add("cifar-10-batches-bin/data_batch_\(k).bin", data)
            }
            let testData = binaryRecords(count: 3, seed: 9) { n in [UInt8(9 - n)] }
            try ReaderFixtures.writeFile(c10, "test_batch.bin", testData)
            tar.add("cifar-10-batches-bin/test_batch.bin", testData)
            let names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"
            try ReaderFixtures.writeText(c10, "batches.meta.txt", names)
            tar.add("cifar-10-batches-bin/batches.meta.txt", Data(names.utf8))
            tar.finish()

            let train = try CIFARReader.load(.cifar10, split: .train, from: dir)
            #expect(train.labels == [1, 2, 2, 3, 3, 4, 4, 5, 5, 6])
            #expect(train.classNames?.last == "truck" && train.coarseLabels == nil)
            let test = try CIFARReader.load(.cifar10, split: .test, from: c10)
            #expect(test.labels == [9, 8, 7])
            checkHWC(test, seed: 9)

            let archive = try ReaderFixtures.writeFile(dir, "packed/cifar-10-binary.tar.gz", try GzipData.compress(tar.data))
            let packed = try CIFARReader.load(.cifar10, split: .train, from: archive)
            #expect(packed.content == train.content && packed.labels == train.labels)

            let c100 = dir.appendingPathComponent("cifar-100-binary")
            try ReaderFixtures.writeFile(c100, "test.bin", binaryRecords(count: 4, seed: 3) { n in [UInt8(19 - n), UInt8(99 - 3 * n)] })
            let t100 = try CIFARReader.load(.cifar100, split: .test, from: dir)
            #expect(t100.labels == [99, 96, 93, 90] && t100.coarseLabels == [19, 18, 17, 16])
            #expect(t100.classNames?.first == "apple" && t100.classNames?.count == 100)  // bundled fallback names
            checkHWC(t100, seed: 3)
        }
    }

    @Test func binaryTruncationAndLabelRange() throws {
        try ReaderFixtures.withTempDirectory { dir in
            let data = binaryRecords(count: 2, seed: 0) { _ in [1] }
            let url = try ReaderFixtures.writeFile(dir, "test_batch.bin", data.prefix(data.count - 10))
            let error = #expect(throws: DatasetError.self) { try CIFARReader.load(.cifar10, split: .test, from: dir) }
            #expect(error == .truncated(path: url.path, expectedBytes: 6146, actualBytes: 6136))

            try ReaderFixtures.writeFile(dir, "test_batch.bin", binaryRecords(count: 2, seed: 0) { n in [UInt8(9 + n)] })
            let error2 = #expect(throws: DatasetError.self) { try CIFARReader.load(.cifar10, split: .test, from: dir) }
            #expect(error2 == .labelOutOfRange(path: url.path, index: 1, label: 10, classCount: 10))
        }
    }

    @Test func truncatedArchiveIsAnError() throws {
        try ReaderFixtures.withTempDirectory { dir in
            let full = try Data(contentsOf: ReaderFixtures.url("cifar-100-python.tar.gz"))
            let url = try ReaderFixtures.writeFile(dir, "cifar-100-python.tar.gz", full.prefix(full.count / 2))
            let error = #expect(throws: DatasetError.self) { try CIFARReader.load(.cifar100, split: .train, from: url) }
            #expect(error?.description.hasPrefix(url.path) == true)
            #expect(error?.description.contains("truncated") == true)
        }
    }

    @Test func missingDataNamesWhatWasExpected() throws {
        try ReaderFixtures.withTempDirectory { dir in
            let error = #expect(throws: DatasetError.self) { try CIFARReader.load(.cifar10, split: .train, from: dir) }
            guard case let .missingFile(path, expected)? = error else {
                Issue.record("expected .missingFile, got \(String(describing: error))")
                return
            }
            #expect(path == dir.appendingPathComponent("cifar-10-python.tar.gz").path)
            #expect(expected.contains("cifar-10-batches-py") && expected.contains("cifar-10-binary.tar.gz"))
            #expect(error?.description.contains("\n") == false)

            // Extracted folder with the training batches but no test batch.
            try ReaderFixtures.extract(ReaderFixtures.url("cifar-10-python.tar.gz"), into: dir)
            let folder = dir.appendingPathComponent("cifar-10-batches-py")
            try FileManager.default.removeItem(at: folder.appendingPathComponent("test_batch"))
            let error2 = #expect(throws: DatasetError.self) { try CIFARReader.load(.cifar10, split: .test, from: folder) }
            guard case let .missingFile(path2, _)? = error2 else {
                Issue.record("expected .missingFile, got \(String(describing: error2))")
                return
            }
            #expect(path2 == folder.appendingPathComponent("test_batch").path)
            // A missing batch of the training set.
            try FileManager.default.removeItem(at: folder.appendingPathComponent("data_batch_4"))
            let error3 = #expect(throws: DatasetError.self) { try CIFARReader.load(.cifar10, split: .train, from: folder) }
            #expect(error3 == .missingFile(path: folder.appendingPathComponent("data_batch_4").path,
                                           expected: "CIFAR-10 train batch"))
        }
    }

    @Test func maliciousBatchIsRefusedWithItsPath() throws {
        try ReaderFixtures.withTempDirectory { dir in
            var evil = Data([0x80, 0x02, 0x63])
            evil.append(contentsOf: Array("posix\nsystem\n".utf8))
            evil.append(contentsOf: [0x58, 2, 0, 0, 0] + Array("id".utf8) + [0x85, 0x52, 0x2E])
            let url = try ReaderFixtures.writeFile(dir, "cifar-100-python/test", evil)
            let error = #expect(throws: PickleError.self) { try CIFARReader.load(.cifar100, split: .test, from: dir) }
            #expect(error == .globalRefused(path: url.path, module: "posix", name: "system", offset: 2))
        }
    }
}
