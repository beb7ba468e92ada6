// libFuzzer target: JPEG / PNG decoding, then preprocessing of whatever decodes.
import CLIP
import Foundation

private let config = PreprocessConfig.openAI(imageSize: 32)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = Data(bytes: data, count: size)
    guard let image = try? ImageDecoder.decode(input, name: "fuzz-image") else { return 0 }
    _ = try? ImagePreprocessor.pixels(image, config: config)
    return 0
}
