import Foundation
import Testing
@testable import Datasets

@Suite struct GzipReaderTests {
    private func sample(_ n: Int) -> Data {
        Data((0 ..< n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 / 7) })
    }

    @Test func roundTripAndMultiMember() throws {
        let a = sample(300_000)
        let b = Data("second member".utf8)
        let gzA = try GzipData.compress(a)
        #expect(GzipData.isGzip(gzA))
        #expect(gzA.count < a.count)
        #expect(try GzipData.decompress(gzA) == a)
        // Concatenated members are joined; trailing zero padding is ignored.
        let joined = gzA + (try GzipData.compress(b)) + Data(count: 64)
        #expect(try GzipData.decompress(joined, name: "joined.gz") == a + b)
    }

    @Test func emptyPayload() throws {
        #expect(try GzipData.decompress(try GzipData.compress(Data())) == Data())
    }

    @Test func truncatedInputIsAnError() throws {
        let gz = try GzipData.compress(sample(100_000))
        for cut in [10, gz.count / 2, gz.count - 4] {
            let error = #expect(throws: DatasetError.self) {
                try GzipData.decompress(gz.prefix(cut), name: "cut.gz")
            }
            #expect(error?.description.hasPrefix("cut.gz: ") == true)
            #expect(error?.description.contains("truncated") == true, "\(String(describing: error))")
        }
    }

    @Test func corruptInputIsAnError() throws {
        var gz = try GzipData.compress(sample(50_000))
        gz[gz.count / 2] ^= 0x5A
        gz[gz.count / 2 + 1] ^= 0xA5
        let error = #expect(throws: DatasetError.self) { try GzipData.decompress(gz, name: "bad.gz") }
        guard case let .malformed(path, _)? = error else {
            Issue.record("expected .malformed, got \(String(describing: error))")
            return
        }
        #expect(path == "bad.gz")
    }

    @Test func junkAfterStreamAndNonGzipAreRefused() throws {
        let gz = try GzipData.compress(sample(1000))
        #expect(throws: DatasetError.self) { try GzipData.decompress(gz + Data("junk".utf8)) }
        let error = #expect(throws: DatasetError.self) { try GzipData.decompress(Data("plain text".utf8), name: "p") }
        #expect(error?.description.contains("not a gzip file") == true)
    }

    @Test func outputLimitIsEnforced() throws {
        let zeros = Data(count: 4 << 20)  // 4 MiB of zeros compresses to a few KB
        let gz = try GzipData.compress(zeros)
        #expect(gz.count < 10_000)
        let error = #expect(throws: DatasetError.self) {
            try GzipData.decompress(gz, maxOutputBytes: 1 << 20, name: "bomb.gz")
        }
        guard case let .tooLarge(path, _, limit)? = error else {
            Issue.record("expected .tooLarge, got \(String(describing: error))")
            return
        }
        #expect(path == "bomb.gz" && limit == 1 << 20)
        // Exactly at the limit is fine.
        #expect(try GzipData.decompress(gz, maxOutputBytes: zeros.count).count == zeros.count)
        // The capacity hint never exceeds the caller's limit or what the input can expand to.
        #expect(GzipData.capacityHint(for: gz, limit: 1000) == 1000)
        var lying = gz
        lying.replaceSubrange(lying.count - 4 ..< lying.count, with: [0xFF, 0xFF, 0xFF, 0x7F])
        #expect(GzipData.capacityHint(for: lying, limit: Int.max) <= gz.count * 1032)
    }

    @Test func missingFileNamesThePath() throws {
        try ReaderFixtures.withTempDirectory { dir in
            let missing = dir.appendingPathComponent("nope.gz")
            let error = #expect(throws: DatasetError.self) { try GzipData.decompress(contentsOf: missing) }
            #expect(error == .missingFile(path: missing.path, expected: "a gzip file"))
        }
    }
}
