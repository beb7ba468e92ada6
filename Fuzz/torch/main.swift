// libFuzzer target: TorchCheckpointFile, the PyTorch checkpoint reader (zip directory, restricted unpickler with the
// torch vocabulary, strided views into storages). The input is written to a temporary file (the reader maps it),
// opened, and every tensor it lists is read.
import Foundation
import TensorKit

private let path: String = {
    let dir = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
    return "\(dir)/clipcl-fuzz-torch-\(getpid()).pt"
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let url = URL(fileURLWithPath: path)
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size)) else { return 0 }
    defer { unlink(path) }
    guard let file = try? TorchCheckpointFile(contentsOf: url) else { return 0 }
    for name in file.names {
        guard let shape = file.shape(of: name) else { fatalError("listed tensor \(name) has no shape") }
        if let t = try? file.tensor(name), t.shape != shape { fatalError("tensor \(name) read with shape \(t.shape), listed as \(shape)") }
        file.adviseDone(name)
    }
    return 0
}
