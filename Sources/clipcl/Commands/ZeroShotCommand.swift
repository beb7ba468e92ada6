import CLIP
import Foundation
import TensorKit

/// `clipcl zeroshot`: top-k labels with probabilities, prompts ensembled over templates as CLIP does.
enum ZeroShotCommand: Command {
    static let name = "zeroshot"
    static let summary = "Classify images zero-shot against class names (template ensembling as in CLIP)."
    static let usage = "clipcl zeroshot --model M --classes names.txt [--template \"a photo of a {}.\"]... [--top-k K] [--json] IMAGE..."
    static let options: [OptionSpec] = modelOptions + [
        .option("classes", "FILE", "Class names, one per line"),
        .repeated("template", "T", "Prompt template with {} for the class name (repeatable; default \"a photo of a {}.\")"),
        .option("templates", "FILE", "Templates, one per line (added to --template)"),
        .option("top-k", "K", "Labels to print per image (default 5)"),
        .option("batch-size", "B", "Images per forward pass (default 8)"),
        imageDTypeOption,
        .flag("json", "Print JSON on stdout"),
    ]

    struct Prediction: Encodable {
        let image: String
        let labels: [String]
        let probabilities: [Float]
    }

    static func run(_ args: ParsedArguments) throws {
        guard !args.positionals.isEmpty else { throw UsageError(message: "give at least one IMAGE", command: name) }
        let classes = try readLines(try args.require("classes"), what: "class names")
        guard !classes.isEmpty else { throw CLIPError.invalidInput("class names file \(args.string("classes")!) is empty") }
        var templates = args.strings("template")
        if let f = args.string("templates") { templates += try readLines(f, what: "templates") }
        if templates.isEmpty { templates = ["a photo of a {}."] }
        let k = min(try args.int("top-k", range: 1...100_000) ?? 5, classes.count)
        let batch = try args.int("batch-size", range: 1...4096) ?? 8
        let clip = try loadModel(args)
        let (classifier, _) = try clip.zeroShotClassifier(classNames: classes, templates: templates)
        let bar = ProgressBar("encode", total: args.positionals.count, unit: "img")
        let images = try clip.encodeImages(args.positionals.map { URL(fileURLWithPath: $0) }, batchSize: batch) { bar.update($0) }
        bar.finish()
        let probs = try clip.model.logits(imageEmbeddings: images, textEmbeddings: classifier).softmax()
        let (values, indices) = try probs.topK(k)
        let predictions = args.positionals.indices.map {
            Prediction(image: args.positionals[$0], labels: indices[$0].map { classes[$0] }, probabilities: values[$0])
        }
        if args.flag("json") {
            try printJSON(predictions)
        } else {
            for p in predictions {
                print(p.image)
                for (l, v) in zip(p.labels, p.probabilities) { print(String(format: "  %6.2f%%  ", v * 100) + l) }
            }
        }
    }
}
