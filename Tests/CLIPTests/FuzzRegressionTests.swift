import Foundation
import Testing
import TestSupport
@testable import CLIP

// Inputs found by the libFuzzer targets (tools/fuzz.sh, Fuzz/<target>/main.swift) that crashed or made the
// parsers allocate absurd amounts of memory. Each file under Tests/Fixtures/fuzz/<target>/ is fed to the same
// code as the fuzz target: a thrown error or a success is fine, a crash is the regression.

struct FuzzRegressionTests {
    /// Fuzz/image: decode, then preprocess (openAI(imageSize: 32)) what decodes.
    @Test func imageInputsNeverCrash() throws {
        let config = PreprocessConfig.openAI(imageSize: 32)
        for url in try TestSupport.fuzzInputs("image") {
            let data = try Data(contentsOf: url)
            guard let image = try? ImageDecoder.decode(data, name: url.lastPathComponent) else { continue }
            _ = try? ImagePreprocessor.pixels(image, config: config)
        }
    }

    /// Tiny PNGs (8 KB) with an extreme aspect ratio decode fine, but resizing their shortest edge to 32 would
    /// allocate gigabytes: the preprocessor refuses them before allocating.
    @Test func extremeAspectRatioIsRefusedBeforeResizing() throws {
        let config = PreprocessConfig.openAI(imageSize: 32)
        let files = try TestSupport.fuzzInputs("image").filter { $0.lastPathComponent.hasPrefix("oversize-resize-") }
        #expect(files.count == 2)
        for url in files {
            let image = try ImageDecoder.decode(contentsOf: url)
            #expect(image.width * image.height == 1 << 22)
            #expect(throws: ImageError.self) { try ImagePreprocessor.pixels(image, config: config) }
        }
    }
}
