import CLIP
import Foundation
import TensorKit

/// `clipcl preprocess`: the model's preprocessing, written as `pixel_values` [N, 3, H, W] F32.
enum PreprocessCommand: Command {
    static let name = "preprocess"
    static let summary = "Decode, resize, crop and normalise images exactly as the checkpoint's reference pipeline."
    static let usage = "clipcl preprocess --model M IMAGE... --output pixels.safetensors"
    static let options: [OptionSpec] = modelOptions + [.option("output", "FILE", "Output safetensors file (tensor pixel_values)")]

    static func run(_ args: ParsedArguments) throws {
        let output = try args.require("output")
        guard !args.positionals.isEmpty else { throw UsageError(message: "give at least one IMAGE", command: name) }
        let clip = try loadModel(args)
        let pixels = try clip.pixels(for: args.positionals.map { URL(fileURLWithPath: $0) })
        var writer = SafeTensorsWriter()
        try writer.add("pixel_values", pixels)
        try writer.write(to: URL(fileURLWithPath: output))
        printError("wrote pixel_values \(pixels.shape) to \(output)")
    }
}
