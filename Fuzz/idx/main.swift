// libFuzzer target: the IDX (MNIST) reader, on the input written to a file (plain or gzipped).
import Datasets
import Foundation

private let path: String = {
    let dir = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
    return "\(dir)/clipcl-fuzz-idx-\(getpid())"
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size)) else { return 0 }
    defer { unlink(path) }
    let url = URL(fileURLWithPath: path)
    // The default limit is 4 GiB; libFuzzer runs with a 2 GB RSS limit, so cap what a header may claim.
    _ = try? IDXReader.readImages(at: url, maxBytes: 256 << 20)
    _ = try? IDXReader.readLabels(at: url, maxBytes: 256 << 20)
    _ = try? IDXReader.readImages(at: url)
    _ = try? IDXReader.readLabels(at: url)
    return 0
}
