// libFuzzer target: SafeTensorsFile. The input is written to a temporary file (the parser maps it),
// opened, and every tensor it lists is read as floats or integers.
import Foundation
import TensorKit

private let path: String = {
    let dir = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
    return "\(dir)/clipcl-fuzz-safetensors-\(getpid()).safetensors"
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let url = URL(fileURLWithPath: path)
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size)) else { return 0 }
    defer { unlink(path) }
    guard let file = try? SafeTensorsFile(contentsOf: url) else { return 0 }
    _ = file.metadata
    for name in file.names {
        guard let entry = file.entry(name) else { fatalError("listed tensor \(name) has no entry") }
        _ = try? file.tensor(name)
        _ = try? file.int64s(name)
        _ = try? file.withRawBytes(name) { raw in raw.reduce(0 as UInt8) { $0 &+ $1 } }
        file.adviseDone(name)
        _ = entry.elementCount
    }
    return 0
}
