import Foundation
import Testing
@testable import Datasets

@Suite struct TarReaderTests {
    private func sampleArchive() -> ReaderTarBuilder {
        var tar = ReaderTarBuilder()
        tar.add("root/", type: "5")
        tar.add("root/a.bin", Data([1, 2, 3]))
        tar.add("root/link", type: "2")
        tar.add("b.txt", Data("with prefix".utf8), prefix: "root/deep")
        tar.addLongName("root/" + String(repeating: "n", count: 150), Data(repeating: 7, count: 600))
        tar.addPaxPath("root/pax/" + String(repeating: "p", count: 120), Data("pax".utf8))
        tar.add("../evil", Data("stays in memory".utf8))
        tar.add("root/empty", Data())
        return tar
    }

    @Test func regularFilesOnlyWithLongNames() throws {
        var tar = sampleArchive()
        tar.finish()
        let entries = try TarReader.regularFiles(in: tar.data, name: "t.tar")
        #expect(entries.map(\.path) == ["root/a.bin", "root/deep/b.txt", "root/" + String(repeating: "n", count: 150),
                                        "root/pax/" + String(repeating: "p", count: 120), "../evil", "root/empty"])
        #expect(entries[0].data == Data([1, 2, 3]))
        #expect(entries[2].data == Data(repeating: 7, count: 600))
        #expect(entries[3].data == Data("pax".utf8))
        #expect(entries[4].baseName == "evil")
        #expect(entries[5].data.isEmpty)
        // Filtering happens before data is copied.
        let some = try TarReader.regularFiles(in: tar.data, name: "t.tar") { $0.hasSuffix(".bin") }
        #expect(some.map(\.path) == ["root/a.bin"])
    }

    @Test func truncatedDataIsAnError() throws {
        var tar = sampleArchive()
        tar.finish()
        // Cut inside the 600-byte entry's data: 6 blocks of earlier entries, 2 of the long-name record, its header.
        let cut = tar.data.prefix(512 * 9 + 100)
        let error = #expect(throws: DatasetError.self) { try TarReader.regularFiles(in: cut, name: "cut.tar") }
        guard case let .truncated(path, expected, actual)? = error else {
            Issue.record("expected .truncated, got \(String(describing: error))")
            return
        }
        #expect(path == "cut.tar" && actual == cut.count && expected == 512 * 9 + 600)
    }

    @Test func missingEndMarkerAndPartialHeaderAreErrors() throws {
        let tar = sampleArchive()  // no end-of-archive blocks
        let error = #expect(throws: DatasetError.self) { try TarReader.regularFiles(in: tar.data, name: "x.tar") }
        #expect(error?.description.contains("end-of-archive") == true)
        let partial = tar.data + Data(count: 100)
        let error2 = #expect(throws: DatasetError.self) { try TarReader.regularFiles(in: partial, name: "x.tar") }
        #expect(error2 == .truncated(path: "x.tar", expectedBytes: tar.data.count + 512, actualBytes: partial.count))
    }

    @Test func badChecksumIsRefused() throws {
        var tar = ReaderTarBuilder()
        tar.add("a", Data([1]), corruptChecksum: true)
        tar.finish()
        let error = #expect(throws: DatasetError.self) { try TarReader.regularFiles(in: tar.data, name: "c.tar") }
        #expect(error?.description.contains("checksum") == true)
    }

    @Test func pythonWrittenArchivesGnuAndPax() throws {
        let expected = try ReaderFixtures.expected()
        let gnu = try TarReader.regularFiles(at: ReaderFixtures.url("cifar-10-python.tar.gz"))
        #expect(gnu.map(\.path).contains(expected.cifar10.long_member))
        #expect(gnu.map(\.baseName).contains("data_batch_5"))
        let pax = try TarReader.regularFiles(at: ReaderFixtures.url("cifar-100-python.tar.gz"))
        #expect(pax.map(\.path).contains(expected.cifar100.long_member))
        #expect(Set(pax.map(\.baseName)).isSuperset(of: ["train", "test", "meta", "file.txt~"]))
        // A gzip limit below the archive's size is enforced.
        #expect(throws: DatasetError.self) {
            try TarReader.regularFiles(at: ReaderFixtures.url("cifar-10-python.tar.gz"), maxBytes: 10_000)
        }
    }
}
