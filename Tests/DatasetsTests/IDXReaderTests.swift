import Foundation
import Testing
import TestSupport
@testable import Datasets

@Suite struct IDXReaderTests {
    // 3 images of 4 rows × 5 columns; pixel(n, y, x) = 40n + 5y + x.
    private let pixels: [UInt8] = (0 ..< 3).flatMap { n in (0 ..< 20).map { UInt8(40 * n + $0) } }
    private func images(count: UInt32 = 3) -> Data {
        ReaderFixtures.idxData(magic: 0x803, dims: [count, 4, 5], payload: Array(pixels.prefix(Int(count) * 20)))
    }
    private func labels(_ values: [UInt8]) -> Data {
        ReaderFixtures.idxData(magic: 0x801, dims: [UInt32(values.count)], payload: values)
    }

    @Test func readsPlainAndGzipLayouts() throws {
        try ReaderFixtures.withTempDirectory { dir in
            try ReaderFixtures.writeFile(dir, "train-images-idx3-ubyte", images())
            try ReaderFixtures.writeFile(dir, "train-labels-idx1-ubyte", labels([9, 0, 4]))
            try ReaderFixtures.writeFile(dir, "t10k-images-idx3-ubyte.gz", try GzipData.compress(images(count: 2)))
            try ReaderFixtures.writeFile(dir, "t10k-labels-idx1-ubyte.gz", try GzipData.compress(labels([1, 8])))

            let train = try MNISTReader.load(.fashionMNIST, split: .train, from: dir)
            #expect(train.count == 3 && train.labels == [9, 0, 4])
            #expect(train.ids == ["train/00000", "train/00001", "train/00002"])
            #expect(train.classNames?[9] == "Ankle boot" && train.classNames?[0] == "T-shirt/top")
            guard case let .pixels(batch) = train.content else {
                Issue.record("expected pixels")
                return
            }
            #expect(batch.width == 5 && batch.height == 4 && batch.channels == 1 && batch.count == 3)
            #expect(Array(batch.image(at: 2)) == Array(pixels[40 ..< 60]))
            #expect(train.sample(at: 1) == DatasetSample(id: "train/00001", label: 0, content:
                .pixels(width: 5, height: 4, channels: 1, bytes: Array(pixels[20 ..< 40]))))

            let test = try MNISTReader.load(.mnist, split: .test, from: dir)
            #expect(test.count == 2 && test.labels == [1, 8] && test.classNames?[8] == "8")
            #expect(test.dataset == "mnist" && test.split == .test)
        }
    }

    @Test func truncatedFileNamesExpectedAndActualBytes() throws {
        try ReaderFixtures.withTempDirectory { dir in
            let full = images()
            let plain = try ReaderFixtures.writeFile(dir, "cut-idx3-ubyte", full.prefix(full.count - 7))
            let error = #expect(throws: DatasetError.self) { try IDXReader.readImages(at: plain) }
            #expect(error == .truncated(path: plain.path, expectedBytes: 76, actualBytes: 69))
            #expect(error?.description == "\(plain.path): truncated: expected 76 bytes, found 69")

            // Complete gzip stream of truncated content: same IDX-level error.
            let gz = try ReaderFixtures.writeFile(dir, "cut-idx3-ubyte.gz", try GzipData.compress(full.prefix(30)))
            let error2 = #expect(throws: DatasetError.self) { try IDXReader.readImages(at: gz) }
            #expect(error2 == .truncated(path: gz.path, expectedBytes: 76, actualBytes: 30))

            // Truncated gzip stream: gzip-level error naming the file.
            let big = ReaderFixtures.idxData(magic: 0x803, dims: [50, 10, 10],
                              payload: (0 ..< 5000).map { UInt8(truncatingIfNeeded: $0 * 7 + $0 / 13) })
            let compressed = try GzipData.compress(big)
            let stream = try ReaderFixtures.writeFile(dir, "stream-idx3-ubyte.gz", compressed.prefix(compressed.count / 2))
            let error3 = #expect(throws: DatasetError.self) { try IDXReader.readImages(at: stream) }
            #expect(error3?.description.hasPrefix(stream.path) == true)
            #expect(error3?.description.contains("truncated") == true)

            // Header itself cut short.
            let header = try ReaderFixtures.writeFile(dir, "h-idx3-ubyte", full.prefix(10))
            let error4 = #expect(throws: DatasetError.self) { try IDXReader.readImages(at: header) }
            #expect(error4 == .truncated(path: header.path, expectedBytes: 16, actualBytes: 10))
        }
    }

    @Test func trailingBytesAreRefused() throws {
        try ReaderFixtures.withTempDirectory { dir in
            let url = try ReaderFixtures.writeFile(dir, "long-idx1-ubyte", labels([1, 2]) + Data([0, 0, 0]))
            let error = #expect(throws: DatasetError.self) { try IDXReader.readLabels(at: url) }
            #expect(error == .trailingData(path: url.path, expectedBytes: 10, actualBytes: 13))
            let gz = try ReaderFixtures.writeFile(dir, "long-idx1-ubyte.gz", try GzipData.compress(labels([1, 2]) + Data([5])))
            let error2 = #expect(throws: DatasetError.self) { try IDXReader.readLabels(at: gz) }
            #expect(error2 == .trailingData(path: gz.path, expectedBytes: 10, actualBytes: 11))
        }
    }

    @Test func absurdHeaderIsRefusedBeforeAllocation() throws {
        try ReaderFixtures.withTempDirectory { dir in
            // 2^31 images of 256 × 256 = 2^47 bytes: must be refused from the header, not by trying to read it.
            let header = ReaderFixtures.idxData(magic: 0x803, dims: [1 << 31, 256, 256], payload: [1, 2, 3])
            for (name, data) in [("huge-idx3-ubyte", header), ("huge-idx3-ubyte.gz", try GzipData.compress(header))] {
                let url = try ReaderFixtures.writeFile(dir, name, data)
                let error = #expect(throws: DatasetError.self) { try IDXReader.readImages(at: url) }
                guard case let .tooLarge(path, claimed, limit)? = error else {
                    Issue.record("expected .tooLarge, got \(String(describing: error))")
                    continue
                }
                #expect(path == url.path && limit == IDXReader.defaultMaxBytes)
                #expect(claimed.contains("2147483648 × 256 × 256 = 140737488355328"))
            }
            // A product that overflows 64 bits.
            let overflow = try ReaderFixtures.writeFile(dir, "ovf-idx3-ubyte",
                                         ReaderFixtures.idxData(magic: 0x803, dims: [.max, .max, .max], payload: []))
            let error = #expect(throws: DatasetError.self) { try IDXReader.readImages(at: overflow) }
            #expect(error?.description.contains("more than 2^63") == true)
            // The caller's cap applies too.
            let small = try ReaderFixtures.writeFile(dir, "small-idx3-ubyte", images())
            #expect(throws: DatasetError.self) { try IDXReader.readImages(at: small, maxBytes: 59) }
            #expect(try IDXReader.readImages(at: small, maxBytes: 60).count == 3)
        }
    }

    @Test func magicCountAndLabelRangeChecks() throws {
        try ReaderFixtures.withTempDirectory { dir in
            let wrong = try ReaderFixtures.writeFile(dir, "labels-as-images", labels([1]))
            let error = #expect(throws: DatasetError.self) { try IDXReader.readImages(at: wrong) }
            #expect(error == .badMagic(path: wrong.path, expected: 0x803, found: 0x801))
            #expect(error?.description.contains("0x00000801") == true)

            try ReaderFixtures.writeFile(dir, "train-images-idx3-ubyte", images())
            let labelsURL = try ReaderFixtures.writeFile(dir, "train-labels-idx1-ubyte", labels([1, 2]))
            let mismatch = #expect(throws: DatasetError.self) {
                try MNISTReader.load(.mnist, split: .train, from: dir)
            }
            #expect(mismatch == .countMismatch(path: dir.appendingPathComponent("train-images-idx3-ubyte").path,
                                               count: 3, otherPath: labelsURL.path, otherCount: 2))

            try ReaderFixtures.writeFile(dir, "train-labels-idx1-ubyte", labels([1, 10, 2]))
            let range = #expect(throws: DatasetError.self) { try MNISTReader.load(.mnist, split: .train, from: dir) }
            #expect(range == .labelOutOfRange(path: labelsURL.path, index: 1, label: 10, classCount: 10))
        }
    }

    @Test func missingFilesAndFolderAreNamed() throws {
        try ReaderFixtures.withTempDirectory { dir in
            let error = #expect(throws: DatasetError.self) { try MNISTReader.load(.fashionMNIST, split: .test, from: dir) }
            guard case let .missingFile(path, expected)? = error else {
                Issue.record("expected .missingFile, got \(String(describing: error))")
                return
            }
            #expect(path == dir.appendingPathComponent("t10k-images-idx3-ubyte.gz").path)
            #expect(expected.contains("Fashion-MNIST test images"))
            let nowhere = dir.appendingPathComponent("absent")
            let error2 = #expect(throws: DatasetError.self) { try MNISTReader.load(.mnist, split: .train, from: nowhere) }
            #expect(error2?.description.hasPrefix("\(nowhere.path): folder not found") == true)
        }
    }

    static let debianFashionMNIST = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist")

    // Debian's dataset-fashion-mnist package installs the real files here (`make test` installs it); skipped where
    // it is not installed, except in CI (CLIPCL_REQUIRE_INTEROP=1), where a missing package fails.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: debianFashionMNIST.path) || TestSupport.interopRequired,
                   "needs the Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)"))
    func realFashionMNISTTestSplit() throws {
        let test = try MNISTReader.load(.fashionMNIST, split: .test, from: Self.debianFashionMNIST)
        #expect(test.count == 10_000)
        guard case let .pixels(batch) = test.content else {
            Issue.record("expected pixels")
            return
        }
        #expect(batch.width == 28 && batch.height == 28 && batch.channels == 1)
        #expect(batch.pixels.count == 10_000 * 784)
        var perClass = [Int](repeating: 0, count: 10)
        for l in test.labels { perClass[l] += 1 }
        #expect(perClass == [Int](repeating: 1000, count: 10))
        #expect(batch.pixels.contains { $0 > 0 })
        #expect(test.classNames?.count == 10)
    }
}
