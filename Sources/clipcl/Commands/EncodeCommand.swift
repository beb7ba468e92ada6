import CLIP
import Foundation
import TensorKit

/// `clipcl encode`: L2-normalised image and text embeddings and logits_per_image, as HF's CLIPModel returns.
enum EncodeCommand: Command {
    static let name = "encode"
    static let summary = "Embed images and texts; print normalised embeddings and exp(logit_scale)·cosine logits."
    static let usage = "clipcl encode --model M [--image PATH]... [--pixels FILE] [--text T]... [--json] [--batch-size B] [--dtype f32|bf16|int8]"
    static let options: [OptionSpec] = modelOptions + [
        .repeated("image", "PATH", "An image file (repeatable)"),
        .option("pixels", "FILE", "Preprocessed pixels: a safetensors file with pixel_values [N,3,H,W] (as written by clipcl preprocess)"),
        .repeated("text", "T", "A text (repeatable)"),
        .option("batch-size", "B", "Images per forward pass (default 8)"),
        imageDTypeOption,
        .flag("json", "Print JSON on stdout"),
    ]

    struct Output: Encodable {
        let imageEmbeds: [[Float]]?
        let textEmbeds: [[Float]]?
        let logitsPerImage: [[Float]]?
        enum CodingKeys: String, CodingKey {
            case imageEmbeds = "image_embeds", textEmbeds = "text_embeds", logitsPerImage = "logits_per_image"
        }
    }

    static func run(_ args: ParsedArguments) throws {
        var images = args.strings("image")
        let texts = args.strings("text")
        guard !images.isEmpty || !texts.isEmpty || args.string("pixels") != nil else {
            throw UsageError(message: "give --image, --pixels and/or --text", command: name)
        }
        let batch = try args.int("batch-size", range: 1...4096) ?? 8
        let clip = try loadModel(args)
        var imageEmbeds: Tensor? = nil, textEmbeds: Tensor? = nil
        if let path = args.string("pixels") {
            guard images.isEmpty else { throw UsageError(message: "give either --image or --pixels, not both", command: name) }
            let pixels = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: path)).tensor("pixel_values")
            imageEmbeds = try clip.model.encodeImages(pixels)
            images = (0..<pixels.shape[0]).map { "\(path)[\($0)]" }
        } else if !images.isEmpty {
            let bar = ProgressBar("encode", total: images.count, unit: "img")
            imageEmbeds = try clip.encodeImages(images.map { URL(fileURLWithPath: $0) }, batchSize: batch) { bar.update($0) }
            bar.finish()
        }
        if !texts.isEmpty { textEmbeds = try clip.encodeTexts(texts) }
        var logits: Tensor? = nil
        if let i = imageEmbeds, let t = textEmbeds { logits = try clip.model.logits(imageEmbeddings: i, textEmbeddings: t) }
        let out = Output(imageEmbeds: try imageEmbeds.map { rows(try $0.l2Normalized()) },
                         textEmbeds: try textEmbeds.map { rows(try $0.l2Normalized()) },
                         logitsPerImage: logits.map(rows))
        if args.flag("json") {
            try printJSON(out)
        } else {
            if let e = out.imageEmbeds { for (p, r) in zip(images, e) { print("image \(p): \(preview(r))") } }
            if let e = out.textEmbeds { for (t, r) in zip(texts, e) { print("text \"\(t)\": \(preview(r))") } }
            if let l = out.logitsPerImage {
                for (p, r) in zip(images, l) { print("logits \(p): " + r.map { String(format: "%.3f", $0) }.joined(separator: " ")) }
            }
        }
    }
}

func rows(_ t: Tensor) -> [[Float]] {
    let d = t.shape.last ?? 1
    return (0..<(t.count / max(d, 1))).map { Array(t.storage[($0 * d)..<(($0 + 1) * d)]) }
}

func preview(_ r: [Float]) -> String {
    "[" + r.prefix(6).map { String(format: "%.4f", $0) }.joined(separator: ", ") + (r.count > 6 ? ", … (\(r.count))]" : "]")
}
